// adapter/blas_info.hpp: which BLAS library this process really uses.
//
// Debian's libtorch links libblas.so.3, which the alternatives system resolves to OpenBLAS or to
// the single-threaded reference (netlib) BLAS. Every Linear and attention matmul goes through it,
// so the difference is 5-10x on the CPU; `ftdr` diagnostics print this line so a slow run is
// explained. Walks the loaded objects (dl_iterate_phdr), resolves symlinks, and asks OpenBLAS for
// its version (openblas_get_config) when it is loaded.
//
//   "blas: OpenBLAS 0.3.21 DYNAMIC_ARCH ... (openblas-pthread,
//   /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3)" "blas: reference BLAS (slow; install
//   libopenblas0-pthread) (/usr/lib/x86_64-linux-gnu/blas/libblas.so.3)"
#pragma once
#include <string>

namespace ftdr::torchbe {

// One line starting with "blas: ".
std::string describe_blas();

// Sets the loaded OpenBLAS's own thread count (openblas_set_num_threads), the runtime form of
// OPENBLAS_NUM_THREADS. OpenBLAS keeps a pthread pool beside libtorch's OpenMP pool, and on a
// 2-core machine both pools spinning at once oversubscribe it. Returns false when no OpenBLAS is
// loaded (MKL, reference BLAS): nothing was changed.
bool set_openblas_threads(int threads);

// The loaded OpenBLAS's thread count (openblas_get_num_threads); 0 when no OpenBLAS is loaded.
int openblas_threads();

}  // namespace ftdr::torchbe
