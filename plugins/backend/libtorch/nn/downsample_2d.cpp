// nn/downsample_2d.cpp  (Ref: diffusers models/downsampling.py Downsample2D, use_conv=True)
#include "nn/downsample_2d.hpp"
#include "nn/stop_point.hpp"

#include "nn/conv_2d.hpp"
#include "nn/cpu_conv.hpp"

namespace ftdr::torchbe {

Downsample2DImpl::Downsample2DImpl(int64_t channels, int64_t padding) : padding_(padding) {
  conv = register_module("conv",
                         Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).stride(2).padding(padding)));
}

at::Tensor Downsample2DImpl::forward(const at::Tensor& x) {
  stop_point();
  if (padding_ == 0) return cpu_conv2d(conv, at::constant_pad_nd(x, {0, 1, 0, 1}, 0));
  return cpu_conv2d(conv, x);
}

}  // namespace ftdr::torchbe
