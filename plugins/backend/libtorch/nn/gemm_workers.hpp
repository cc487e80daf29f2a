// nn/gemm_workers.hpp: whether independent GEMMs may run side by side on libtorch's intra-op threads.
//
// On the CPU an attention's heads and a batch's samples are separate BLAS calls, one after the
// other. With the BLAS on one thread (the split `threads = 0` picks on small machines, because
// OpenBLAS's own spinning threads slow libtorch's down) each call runs on one core while libtorch's
// other intra-op threads wait: at the tiny models' sizes attention and projections are most of a
// UNet step. Run side by side, one call per intra-op thread, they use every core, with the same
// result per call (each still one single-threaded GEMM). With a multi-threaded BLAS they must not:
// each call would want every core, and OpenBLAS serialises concurrent multi-threaded calls.
//
// Whoever sets the BLAS's threads reports them here (set_openblas_threads, adapter/blas_info.hpp);
// until then, and with a BLAS whose threads are not known (MKL), GEMMs run one at a time.
//
//   const int workers = gemm_workers();   // 1: one at a time
//   run_side_by_side(items, workers, [&](std::int64_t item, int worker) { ... });
#pragma once
#include <cstdint>
#include <functional>

namespace ftdr::torchbe {

// The BLAS's threads per call, as last set; 0 = not known.
void note_blas_threads(int threads);

// libtorch's intra-op threads when the BLAS runs each call on one thread and this thread is not
// already inside a parallel region; otherwise 1.
int gemm_workers();

// libtorch's intra-op threads unless this thread is already inside a parallel region (then 1): the
// workers for independent items that use no BLAS (a batch's small samples, nn/per_sample_activation).
int intra_op_workers();

// Calls work(item, worker) for every item in [0, items): with workers > 1 on libtorch's intra-op
// threads in contiguous runs of items (worker < workers, one thread each, so per-worker buffers
// need no lock), with this thread's autograd/inference mode; else in order on this thread (worker
// 0). An exception thrown by work is rethrown here.
void run_side_by_side(std::int64_t items, int workers, const std::function<void(std::int64_t, int)>& work);

}  // namespace ftdr::torchbe
