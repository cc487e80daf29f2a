// nn/upsample_2d.cpp  (Ref: diffusers models/upsampling.py Upsample2D, use_conv=True)
#include "nn/upsample_2d.hpp"
#include "nn/stop_point.hpp"

#include "nn/conv_2d.hpp"
#include "nn/cpu_conv.hpp"

namespace ftdr::torchbe {

namespace F = torch::nn::functional;

Upsample2DImpl::Upsample2DImpl(int64_t channels) {
  conv = register_module("conv", Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).padding(1)));
}

at::Tensor Upsample2DImpl::forward(at::Tensor x, const std::vector<int64_t>& size) {
  // Nearest-neighbour upsampling has no bfloat16 CPU kernel in older libtorch: go through float32.
  const at::ScalarType dtype = x.scalar_type();
  const bool via_f32 = dtype == at::kBFloat16;
  at::Tensor in =
      via_f32 ? x.to(at::kFloat) : x.contiguous(x.suggest_memory_format());  // channels-last stays
  x.reset();
  auto opts = F::InterpolateFuncOptions().mode(torch::kNearest);
  if (size.empty())
    opts.scale_factor(std::vector<double>{2.0, 2.0});
  else
    opts.size(size);
  at::Tensor up = F::interpolate(in, opts);
  in.reset();
  if (via_f32) up = up.to(dtype);
  stop_point();
  return cpu_conv2d(conv, up);
}

}  // namespace ftdr::torchbe
