// unet/cross_attn_up_block_2d.cpp  (Ref: diffusers models/unets/unet_2d_blocks.py CrossAttnUpBlock2D)
#include "unet/cross_attn_up_block_2d.h"

namespace ftdr::torchbe {

CrossAttnUpBlock2DImpl::CrossAttnUpBlock2DImpl(const UNetBlockOptions& o, AttentionSettingsPtr settings) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  attentions = register_module("attentions", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    const int64_t skip = i == o.num_layers - 1 ? o.in_channels : o.out_channels;
    ResnetBlock2DOptions r;
    r.in_channels = (i == 0 ? o.prev_output_channel : o.out_channels) + skip;
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
    sampler_ = Upsample2D(o.out_channels);
    upsamplers = register_module("upsamplers", torch::nn::ModuleList(sampler_));
  }
}

at::Tensor CrossAttnUpBlock2DImpl::forward(const at::Tensor& x, std::vector<at::Tensor>& skips, const at::Tensor& temb,
                                           const at::Tensor& context, const std::vector<int64_t>& upsample_size) {
  at::Tensor h = x;
  for (size_t i = 0; i < resnets_.size(); ++i) {
    h = at::cat({h, skips.back()}, 1);
    skips.pop_back();
    h = resnets_[i](h, temb);
    h = attentions_[i](h, context);
  }
  return sampler_ ? sampler_(h, upsample_size) : h;
}

}  // namespace ftdr::torchbe
