// vae/up_decoder_block_2d.cpp  (Ref: diffusers models/unets/unet_2d_blocks.py UpDecoderBlock2D)
#include "vae/up_decoder_block_2d.hpp"

namespace ftdr::torchbe {

UpDecoderBlock2DImpl::UpDecoderBlock2DImpl(const VaeBlockOptions& o) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    resnets_.emplace_back(vae_resnet_options(o, i));
    resnets->push_back(resnets_.back());
  }
  if (o.add_sample) {
    sampler_ = Upsample2D(o.out_channels);
    upsamplers = register_module("upsamplers", torch::nn::ModuleList(sampler_));
  }
}

at::Tensor UpDecoderBlock2DImpl::forward(const at::Tensor& x) {
  at::Tensor h = x;
  for (auto& resnet : resnets_) h = resnet(h);
  return sampler_ ? sampler_(h) : h;
}

}  // namespace ftdr::torchbe
