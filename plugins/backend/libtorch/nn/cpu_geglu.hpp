// nn/cpu_geglu.hpp: GEGLU's gating, hidden * gelu(gate), in one pass on the CPU.
//
// The transformer blocks' feed-forward projects to [hidden, gate] (2 x inner channels) and
// multiplies the hidden half by the exact (erf) GELU of the gate half. libtorch does that in two
// passes (GELU into a new tensor, then the product into another) and its GELU spends most of its
// time in Sleef's 1-ulp erff: 5.7% of a tiny-pipeline profile's samples on 2 threads. On AVX2 + FMA
// this kernel reads both halves once and writes the product, with erf from Abramowitz & Stegun
// 7.1.26 (absolute error under 1.5e-7, the approximation libtorch's own vectorised erf uses in
// later releases) and 1 + erf(-z) taken as erfc(z) directly (no cancellation for negative gates).
// Every element is computed alone (a row's tail through the same vector code), so an image's
// result depends neither on its batch nor on the thread count. Elsewhere (no AVX2/FMA, other
// dtypes or layouts, autograd) it is hidden * gelu_per_sample(gate) (nn/per_sample_activation.hpp).
//
//   at::Tensor y = cpu_geglu(cpu_linear(x, proj->weight, proj->bias));   // [..., 2C] -> [..., C]
#pragma once
#include <ATen/ATen.h>

namespace ftdr::torchbe {

// True when cpu_geglu computes h with its own kernel: float32, CPU, contiguous, an even last
// dimension, no gradient to record, and a CPU with AVX2 and FMA.
bool cpu_geglu_fast(const at::Tensor& h);

// h[..., :C] * gelu(h[..., C:]) for h [..., 2C] -> [..., C], contiguous.
at::Tensor cpu_geglu(const at::Tensor& h);

}  // namespace ftdr::torchbe
