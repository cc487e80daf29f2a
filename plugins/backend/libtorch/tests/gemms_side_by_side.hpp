// GemmsSideBySide: for one scope, the BLAS on one thread and libtorch on two, so independent GEMMs
// run side by side (nn/gemm_workers.hpp); both restored after.
//
//   { GemmsSideBySide on; ASSERT_EQ(torchbe::gemm_workers(), 2); ... }
#pragma once
#include "adapter/blas_info.hpp"
#include "nn/gemm_workers.hpp"
#include "thread_count.hpp"

namespace ftdr::test {

class GemmsSideBySide {
 public:
  GemmsSideBySide() : blas_(torchbe::openblas_threads()) {
    // Without OpenBLAS (MKL in libtorch 2.x) nothing can be set: MKL runs single-threaded inside
    // libtorch's parallel regions by itself, so saying so is true.
    if (!torchbe::set_openblas_threads(1)) torchbe::note_blas_threads(1);
  }
  ~GemmsSideBySide() {
    if (blas_ > 0) {
      torchbe::set_openblas_threads(blas_);
    } else {
      torchbe::note_blas_threads(0);
    }
  }
  GemmsSideBySide(const GemmsSideBySide&) = delete;
  GemmsSideBySide& operator=(const GemmsSideBySide&) = delete;

 private:
  ThreadCount threads_{2};
  int blas_;
};

}  // namespace ftdr::test
