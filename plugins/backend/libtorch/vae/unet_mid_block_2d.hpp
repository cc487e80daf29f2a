// vae/unet_mid_block_2d.hpp: diffusers' UNetMidBlock2D as the VAE uses it (no time embedding):
// resnet, then (Attention with group_norm, resnet) pairs; a single head over all channels.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/attention_processor.hpp"
#include "nn/resnet_block_2d.hpp"

namespace ftdr::torchbe {

struct UNetMidBlock2DOptions {
  int64_t in_channels = 0;
  int64_t num_layers = 1;  // (attention, resnet) pairs after the first resnet
  double eps = 1e-6;
  int64_t groups = 32;
  int64_t attention_head_dim = 0;  // 0 = in_channels (one head), as the VAE builds it
  bool add_attention = true;
};

class UNetMidBlock2DImpl : public torch::nn::Module {
 public:
  UNetMidBlock2DImpl(const UNetMidBlock2DOptions& options, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::ModuleList attentions{nullptr};
  torch::nn::ModuleList resnets{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Attention> attentions_;
};
TORCH_MODULE(UNetMidBlock2D);

}  // namespace ftdr::torchbe
