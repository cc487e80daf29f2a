// vae/unet_mid_block_2d.cpp  (Ref: diffusers models/unets/unet_2d_blocks.py UNetMidBlock2D)
#include "vae/unet_mid_block_2d.hpp"

namespace ftdr::torchbe {

UNetMidBlock2DImpl::UNetMidBlock2DImpl(const UNetMidBlock2DOptions& o, AttentionSettingsPtr settings) {
  ResnetBlock2DOptions r;
  r.in_channels = o.in_channels;
  r.out_channels = o.in_channels;
  r.groups = o.groups;
  r.eps = o.eps;
  AttentionOptions a;
  a.query_dim = o.in_channels;
  a.dim_head = o.attention_head_dim > 0 ? o.attention_head_dim : o.in_channels;
  a.heads = o.in_channels / a.dim_head;
  a.bias = true;
  a.upcast = true;  // diffusers builds the VAE attention with upcast_softmax=True
  a.norm_num_groups = o.groups;
  a.eps = o.eps;
  a.residual_connection = true;

  attentions = register_module("attentions", torch::nn::ModuleList());
  resnets = register_module("resnets", torch::nn::ModuleList());
  resnets_.emplace_back(r);
  resnets->push_back(resnets_.back());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    if (o.add_attention) {
      attentions_.emplace_back(a, settings);
      attentions->push_back(attentions_.back());
    }
    resnets_.emplace_back(r);
    resnets->push_back(resnets_.back());
  }
}

at::Tensor UNetMidBlock2DImpl::forward(const at::Tensor& x) {
  at::Tensor h = resnets_[0](x);
  for (size_t i = 1; i < resnets_.size(); ++i) {
    if (!attentions_.empty()) h = attentions_[i - 1](h);
    h = resnets_[i](h);
  }
  return h;
}

}  // namespace ftdr::torchbe
