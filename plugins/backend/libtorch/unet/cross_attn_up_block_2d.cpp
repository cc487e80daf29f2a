// unet/cross_attn_up_block_2d.cpp  (Ref: diffusers models/unets/unet_2d_blocks.py CrossAttnUpBlock2D)
#include "unet/cross_attn_up_block_2d.hpp"

namespace ftdr::torchbe {

CrossAttnUpBlock2DImpl::CrossAttnUpBlock2DImpl(const UNetBlockOptions& o, AttentionSettingsPtr settings) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  attentions = register_module("attentions", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    resnets_.emplace_back(up_resnet_options(o, i));
    resnets->push_back(resnets_.back());
    attentions_.emplace_back(transformer_options(o, o.out_channels), settings);
    attentions->push_back(attentions_.back());
  }
  if (o.add_sample) {
    sampler_ = Upsample2D(o.out_channels);
    upsamplers = register_module("upsamplers", torch::nn::ModuleList(sampler_));
  }
}

at::Tensor CrossAttnUpBlock2DImpl::forward(const at::Tensor& x, std::vector<at::Tensor>& skips,
                                           const at::Tensor& temb, const at::Tensor& context,
                                           const std::vector<int64_t>& upsample_size) {
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
