// nn/downsample_2d.hpp: diffusers' Downsample2D with use_conv=True (a 3x3 stride-2 conv named "conv").
//
// padding 0 (the VAE encoder) first pads right and bottom by one, as diffusers does, so odd sizes
// round the same way.
#pragma once
#include <torch/nn.h>
#include "nn/conv_2d.hpp"

namespace ftdr::torchbe {

class Downsample2DImpl : public torch::nn::Module {
 public:
  Downsample2DImpl(int64_t channels, int64_t padding);
  at::Tensor forward(const at::Tensor& x);

  Conv2d conv{nullptr};

 private:
  int64_t padding_;
};
TORCH_MODULE(Downsample2D);

}  // namespace ftdr::torchbe
