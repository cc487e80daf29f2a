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

at::Tensor UpDecoderBlock2DImpl::forward(at::Tensor x) {
  // x handed on, not copied: each layer may then reuse or free it (ResnetBlock2DImpl::forward).
  for (auto& resnet : resnets_) x = resnet(std::move(x));
  return sampler_ ? sampler_(std::move(x)) : x;
}

}  // namespace ftdr::torchbe
