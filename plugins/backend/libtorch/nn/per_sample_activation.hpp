// nn/per_sample_activation.hpp: SiLU whose result for one sample (an image) does not depend on the batch
// it is in.
//
// libtorch runs an elementwise op over one contiguous range of the tensor per intra-op thread, the
// range's body in SIMD vectors and its last partial vector (or partial row) through the scalar
// kernel. For SiLU, and for GELU over a strided tensor (GEGLU's half of a projection), the two round
// differently, so an element at a range's end gets other bits than in the middle of one, and where
// the ranges end depends on the whole tensor's size. Debian's libtorch 1.13 on 3 threads: SiLU over
// [4, 32, 64, 64] gives 3 of the 4 images other bits than SiLU over each image alone (GELU over
// the second half of [4, 256, 512]: 3 of 4), and a batch that recovery split into 1 + 1 made other
// pixels than the batch run whole. So at inference on the CPU these run one sample at a time: the
// ranges then depend on one sample's size and the thread count only, and a sample is computed
// exactly as it is alone. SiLU over float32 on a CPU with AVX2/FMA is nn/cpu_silu.hpp's, whose
// elements are each computed alone (no batch to split).
//
//   h = cpu_conv2d(conv1, silu_per_sample_(norm1(x)));   // in place: nothing else holds norm1's output
//   t = cpu_linear(silu_per_sample(temb), w, b);
//   y = parts[0] * gelu_per_sample(parts[1]);             // exact (erf) GELU
#pragma once
#include <ATen/ATen.h>

namespace ftdr::torchbe {

// SiLU in place, one sample at a time, on a tensor nothing else holds (a norm's fresh output). In
// place because `silu(norm(x))` kept the norm's output alive beside the SiLU's until the next
// convolution returned: at a VAE's full resolution 128-268 MiB more peak memory per resnet (the
// SD-1.5 VAE decode at 512x512). Under autograd with a tensor that needs a gradient it runs out of
// place (SiLU's backward needs its input).
at::Tensor silu_per_sample_(at::Tensor t);

// SiLU and exact (erf) GELU into a new contiguous tensor, one sample at a time.
at::Tensor silu_per_sample(const at::Tensor& t);
at::Tensor gelu_per_sample(const at::Tensor& t);

}  // namespace ftdr::torchbe
