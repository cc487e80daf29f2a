// nn/gemm_workers.cpp: see gemm_workers.hpp.
#include "nn/gemm_workers.hpp"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <atomic>

namespace ftdr::torchbe {
namespace {

std::atomic<int> blas_threads{0};

}  // namespace

void note_blas_threads(int threads) { blas_threads.store(threads); }

int gemm_workers() {
  if (blas_threads.load() != 1 || at::in_parallel_region()) return 1;
  return std::max(at::get_num_threads(), 1);
}

int intra_op_workers() { return at::in_parallel_region() ? 1 : std::max(at::get_num_threads(), 1); }

void run_side_by_side(std::int64_t items, int workers, const std::function<void(std::int64_t, int)>& work) {
  if (workers <= 1 || items <= 1) {
    for (std::int64_t item = 0; item < items; ++item) work(item, 0);
    return;
  }
  // libtorch's pool threads do not inherit this thread's inference mode: an in-place write into an
  // inference tensor outside it is an error.
  const at::ThreadLocalState caller;
  at::parallel_for(0, items, 1, [&](std::int64_t begin, std::int64_t end) {
    at::ThreadLocalStateGuard same_modes(caller);
    const int worker = at::get_thread_num();
    TORCH_CHECK(worker < workers, "run_side_by_side: intra-op thread ", worker, " of ", workers,
                " (the thread count changed during the call)");
    for (std::int64_t item = begin; item < end; ++item) work(item, worker);
  });
}

}  // namespace ftdr::torchbe
