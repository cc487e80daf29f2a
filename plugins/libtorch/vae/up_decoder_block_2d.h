// vae/up_decoder_block_2d.h: diffusers' UpDecoderBlock2D: resnets, then an optional Upsample2D.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/resnet_block_2d.h"
#include "nn/upsample_2d.h"
#include "vae/vae_block_options.h"

namespace ftdr::torchbe {

class UpDecoderBlock2DImpl : public torch::nn::Module {
 public:
  explicit UpDecoderBlock2DImpl(const VaeBlockOptions& options);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList upsamplers{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  Upsample2D sampler_{nullptr};
};
TORCH_MODULE(UpDecoderBlock2D);

}  // namespace ftdr::torchbe
