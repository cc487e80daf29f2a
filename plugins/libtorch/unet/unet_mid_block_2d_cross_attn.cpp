// unet/unet_mid_block_2d_cross_attn.cpp  (Ref: diffusers models/unets/unet_2d_blocks.py UNetMidBlock2DCrossAttn)
#include "unet/unet_mid_block_2d_cross_attn.h"

namespace ftdr::torchbe {

UNetMidBlock2DCrossAttnImpl::UNetMidBlock2DCrossAttnImpl(const UNetBlockOptions& o, AttentionSettingsPtr settings) {
  ResnetBlock2DOptions r;
  r.in_channels = o.in_channels;
  r.out_channels = o.in_channels;
  r.temb_channels = o.temb_channels;
  r.groups = o.groups;
  r.eps = o.eps;
  r.output_scale_factor = o.output_scale_factor;
  Transformer2DModelOptions t;
  t.in_channels = o.in_channels;
  t.heads = o.heads;
  t.dim_head = o.in_channels / o.heads;
  t.num_layers = o.transformer_layers;
  t.cross_attention_dim = o.cross_attention_dim;
  t.norm_num_groups = o.groups;
  t.use_linear_projection = o.use_linear_projection;
  t.upcast_attention = o.upcast_attention;

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

at::Tensor UNetMidBlock2DCrossAttnImpl::forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context) {
  at::Tensor h = resnets_[0](x, temb);
  for (size_t i = 0; i < attentions_.size(); ++i) {
    h = attentions_[i](h, context);
    h = resnets_[i + 1](h, temb);
  }
  return h;
}

}  // namespace ftdr::torchbe
