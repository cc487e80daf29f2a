// nn/cpu_silu.hpp: SiLU over float32 on the CPU with our own exp, every element alone.
//
// x * sigmoid(x) with u = exp(-|x|) (nn/avx2_math.hpp, no overflow for any x): sigmoid is 1 / (1 + u)
// for x >= 0 and u / (1 + u) below. libtorch's SiLU spends its time in Sleef's 1-ulp expf (0.2 s
// of the SD-1.5 VAE decode's, 1.6% of the tiny pipeline's samples), and its vector kernel rounds
// a range's last partial vector differently, which nn/per_sample_activation.hpp works around; here
// the tail goes through the same vector code, so an element's result depends on nothing but its
// value (any batch, any thread count). Within a few ulp of libtorch's (below x = -87.3, where SiLU
// is under 1e-35 in magnitude, 0). Any dense layout
// (contiguous or channels-last: the storage is walked as it lies).
//
//   if (cpu_silu_fast(t)) cpu_silu_out(t, t);   // in place
#pragma once
#include <ATen/ATen.h>

namespace ftdr::torchbe {

// True when cpu_silu_out computes t: float32, CPU, dense (non-overlapping), no gradient to
// record, and a CPU with AVX2 and FMA.
bool cpu_silu_fast(const at::Tensor& t);

// silu(x) into out (x's sizes and strides; may be x itself). Elements side by side on libtorch's
// threads.
void cpu_silu_out(const at::Tensor& out, const at::Tensor& x);

}  // namespace ftdr::torchbe
