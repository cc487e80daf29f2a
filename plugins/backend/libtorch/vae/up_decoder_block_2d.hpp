// vae/up_decoder_block_2d.hpp: diffusers' UpDecoderBlock2D: resnets, then an optional Upsample2D.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/resnet_block_2d.hpp"
#include "nn/upsample_2d.hpp"
#include "vae/vae_block_options.hpp"

namespace ftdr::torchbe {

class UpDecoderBlock2DImpl : public torch::nn::Module {
 public:
  explicit UpDecoderBlock2DImpl(const VaeBlockOptions& options);
  // x by value: a caller that moves it in lets the layers reuse or free it as they go.
  at::Tensor forward(at::Tensor x);

  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList upsamplers{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  Upsample2D sampler_{nullptr};
};
TORCH_MODULE(UpDecoderBlock2D);

}  // namespace ftdr::torchbe
