// unet/unet_mid_block_2d_cross_attn.cpp  (Ref: diffusers models/unets/unet_2d_blocks.py
// UNetMidBlock2DCrossAttn)
#include "unet/unet_mid_block_2d_cross_attn.hpp"

namespace ftdr::torchbe {

UNetMidBlock2DCrossAttnImpl::UNetMidBlock2DCrossAttnImpl(const UNetBlockOptions& o,
                                                         AttentionSettingsPtr settings) {
  UNetBlockOptions same = o;  // the mid block keeps its width: in_channels throughout
  same.out_channels = o.in_channels;
  const ResnetBlock2DOptions r = down_resnet_options(same, 0);
  const Transformer2DModelOptions t = transformer_options(o, o.in_channels);

  attentions = register_module("attentions", torch::nn::ModuleList());
  resnets = register_module("resnets", torch::nn::ModuleList());
  resnets_.emplace_back(r);
  resnets->push_back(resnets_.back());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    attentions_.emplace_back(t, settings);
    attentions->push_back(attentions_.back());
    resnets_.emplace_back(r);
    resnets->push_back(resnets_.back());
  }
}

at::Tensor UNetMidBlock2DCrossAttnImpl::forward(const at::Tensor& x, const at::Tensor& temb,
                                                const at::Tensor& context) {
  at::Tensor h = resnets_[0](x, temb);
  for (size_t i = 0; i < attentions_.size(); ++i) {
    h = attentions_[i](h, context);
    h = resnets_[i + 1](h, temb);
  }
  return h;
}

}  // namespace ftdr::torchbe
