// unet/down_block_2d.cpp  (Ref: diffusers models/unets/unet_2d_blocks.py DownBlock2D)
#include "unet/down_block_2d.hpp"

namespace ftdr::torchbe {

DownBlock2DImpl::DownBlock2DImpl(const UNetBlockOptions& o, AttentionSettingsPtr /*settings*/) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    resnets_.emplace_back(down_resnet_options(o, i));
    resnets->push_back(resnets_.back());
  }
  if (o.add_sample) {
    sampler_ = Downsample2D(o.out_channels, o.downsample_padding);
    downsamplers = register_module("downsamplers", torch::nn::ModuleList(sampler_));
  }
}

std::pair<at::Tensor, std::vector<at::Tensor>> DownBlock2DImpl::forward(const at::Tensor& x,
                                                                        const at::Tensor& temb,
                                                                        const at::Tensor& /*context*/) {
  std::vector<at::Tensor> states;
  at::Tensor h = x;
  for (auto& resnet : resnets_) {
    h = resnet(h, temb);
    states.push_back(h);
  }
  if (sampler_) {
    h = sampler_(h);
    states.push_back(h);
  }
  return {h, states};
}

}  // namespace ftdr::torchbe
