// vae/down_encoder_block_2d.hpp: diffusers' DownEncoderBlock2D: resnets (no time embedding), then an
// optional Downsample2D with padding 0 (pad right/bottom by one, 3x3 stride-2 conv).
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/downsample_2d.hpp"
#include "nn/resnet_block_2d.hpp"
#include "vae/vae_block_options.hpp"

namespace ftdr::torchbe {

class DownEncoderBlock2DImpl : public torch::nn::Module {
 public:
  explicit DownEncoderBlock2DImpl(const VaeBlockOptions& options);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList downsamplers{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  Downsample2D sampler_{nullptr};
};
TORCH_MODULE(DownEncoderBlock2D);

}  // namespace ftdr::torchbe
