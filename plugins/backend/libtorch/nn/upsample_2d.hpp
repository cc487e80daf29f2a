// nn/upsample_2d.hpp: diffusers' Upsample2D with use_conv=True: nearest x2 (or to `size`), 3x3 conv.
#pragma once
#include <torch/nn.h>

#include <vector>
#include "nn/conv_2d.hpp"

namespace ftdr::torchbe {

class Upsample2DImpl : public torch::nn::Module {
 public:
  explicit Upsample2DImpl(int64_t channels);
  // size: the target [H, W] (the UNet passes its skip connection's size so odd sizes line up);
  // empty = twice the input. A caller that moves its last reference to x in frees x before the
  // convolution (the VAE decoder: 256 channels at 256x256 beside the 512x512 input and output).
  at::Tensor forward(at::Tensor x, const std::vector<int64_t>& size = {});

  Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample2D);

}  // namespace ftdr::torchbe
