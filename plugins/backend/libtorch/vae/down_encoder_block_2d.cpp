// vae/down_encoder_block_2d.cpp  (Ref: diffusers models/unets/unet_2d_blocks.py DownEncoderBlock2D)
#include "vae/down_encoder_block_2d.hpp"

namespace ftdr::torchbe {

namespace {
constexpr int64_t kEncoderDownsamplePadding = 0;  // the VAE Encoder builds its blocks with padding 0
}

DownEncoderBlock2DImpl::DownEncoderBlock2DImpl(const VaeBlockOptions& o) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    resnets_.emplace_back(vae_resnet_options(o, i));
    resnets->push_back(resnets_.back());
  }
  if (o.add_sample) {
    sampler_ = Downsample2D(o.out_channels, kEncoderDownsamplePadding);
    downsamplers = register_module("downsamplers", torch::nn::ModuleList(sampler_));
  }
}

at::Tensor DownEncoderBlock2DImpl::forward(const at::Tensor& x) {
  at::Tensor h = x;
  for (auto& resnet : resnets_) h = resnet(h);
  return sampler_ ? sampler_(h) : h;
}

}  // namespace ftdr::torchbe
