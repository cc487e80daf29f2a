// nn/silu_fresh.hpp: SiLU of a tensor nothing else holds (a norm's fresh output).
//
//   at::Tensor h = cpu_conv2d(conv1, silu_fresh(norm1(x)));
//
// At inference it runs in place, so a block holds one tensor where `silu(norm(x))` held two until
// the convolution returned: at a VAE's full resolution that is 128-268 MiB less peak memory per
// resnet (the SD-1.5 VAE decode at 512x512). Same kernel, same bits. Under autograd it runs out of
// place, as SiLU's backward needs its input.
#pragma once
#include <ATen/ATen.h>

namespace ftdr::torchbe {

inline at::Tensor silu_fresh(at::Tensor t) {
  if (at::GradMode::is_enabled() && t.requires_grad()) return at::silu(t);
  return at::silu_(t);
}

}  // namespace ftdr::torchbe
