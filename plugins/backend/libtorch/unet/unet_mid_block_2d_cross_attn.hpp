// unet/unet_mid_block_2d_cross_attn.hpp: diffusers' UNetMidBlock2DCrossAttn:
// resnet, then (Transformer2DModel, resnet) pairs.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/resnet_block_2d.hpp"
#include "unet/transformer_2d_model.hpp"
#include "unet/unet_blocks.hpp"

namespace ftdr::torchbe {

class UNetMidBlock2DCrossAttnImpl : public torch::nn::Module {
 public:
  // Uses options.in_channels, num_layers (transformer/resnet pairs, 1 for SD), temb_channels, eps,
  // groups, output_scale_factor and the cross-attention fields.
  UNetMidBlock2DCrossAttnImpl(const UNetBlockOptions& options, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context);

  torch::nn::ModuleList attentions{nullptr};
  torch::nn::ModuleList resnets{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
};
TORCH_MODULE(UNetMidBlock2DCrossAttn);

}  // namespace ftdr::torchbe
