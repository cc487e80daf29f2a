// unet/cross_attn_down_block_2d.cpp  (Ref: diffusers models/unets/unet_2d_blocks.py CrossAttnDownBlock2D)
#include "unet/cross_attn_down_block_2d.h"

namespace ftdr::torchbe {

CrossAttnDownBlock2DImpl::CrossAttnDownBlock2DImpl(const UNetBlockOptions& o, AttentionSettingsPtr settings) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  attentions = register_module("attentions", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    ResnetBlock2DOptions r;
    r.in_channels = i == 0 ? o.in_channels : o.out_channels;
    r.out_channels = o.out_channels;
    r.temb_channels = o.temb_channels;
    r.groups = o.groups;
    r.eps = o.eps;
    r.output_scale_factor = o.output_scale_factor;
    resnets_.emplace_back(r);
    resnets->push_back(resnets_.back());

    Transformer2DModelOptions t;
    t.in_channels = o.out_channels;
    t.heads = o.heads;
    t.dim_head = o.out_channels / o.heads;
    t.num_layers = o.transformer_layers;
    t.cross_attention_dim = o.cross_attention_dim;
    t.norm_num_groups = o.groups;
    t.use_linear_projection = o.use_linear_projection;
    t.upcast_attention = o.upcast_attention;
    attentions_.emplace_back(t, settings);
    attentions->push_back(attentions_.back());
  }
  if (o.add_sample) {
    sampler_ = Downsample2D(o.out_channels, o.downsample_padding);
    downsamplers = register_module("downsamplers", torch::nn::ModuleList(sampler_));
  }
}

std::pair<at::Tensor, std::vector<at::Tensor>> CrossAttnDownBlock2DImpl::forward(const at::Tensor& x,
                                                                                 const at::Tensor& temb,
                                                                                 const at::Tensor& context) {
  std::vector<at::Tensor> states;
  at::Tensor h = x;
  for (size_t i = 0; i < resnets_.size(); ++i) {
    h = resnets_[i](h, temb);
    h = attentions_[i](h, context);
    states.push_back(h);
  }
  if (sampler_) {
    h = sampler_(h);
    states.push_back(h);
  }
  return {h, states};
}

}  // namespace ftdr::torchbe
