// vae/encoder.cpp  (Ref: diffusers models/autoencoders/vae.py Encoder, double_z=True)
#include "vae/encoder.hpp"
#include "nn/stop_point.hpp"

#include "nn/conv_2d.hpp"
#include "nn/cpu_conv.hpp"
#include "nn/group_norm.hpp"
#include "nn/per_sample_activation.hpp"

namespace ftdr::torchbe {

EncoderImpl::EncoderImpl(const VaeConfig& cfg, AttentionSettingsPtr settings) {
  const auto& ch = cfg.block_out_channels;
  conv_in =
      register_module("conv_in", Conv2d(torch::nn::Conv2dOptions(cfg.in_channels, ch.front(), 3).padding(1)));
  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  int64_t output_channel = ch.front();
  for (size_t i = 0; i < ch.size(); ++i) {
    VaeBlockOptions o;
    o.in_channels = output_channel;
    output_channel = ch[i];
    o.out_channels = output_channel;
    o.num_layers = cfg.layers_per_block;
    o.add_sample = i + 1 < ch.size();
    o.eps = kVaeNormEps;
    o.groups = cfg.norm_num_groups;
    blocks_.emplace_back(o);
    down_blocks->push_back(blocks_.back());
  }
  UNetMidBlock2DOptions mid;
  mid.in_channels = ch.back();
  mid.eps = kVaeNormEps;
  mid.groups = cfg.norm_num_groups;
  mid.add_attention = cfg.mid_block_add_attention;
  mid_block = register_module("mid_block", UNetMidBlock2D(mid, settings));
  conv_norm_out = register_module(
      "conv_norm_out",
      GroupNorm(torch::nn::GroupNormOptions(cfg.norm_num_groups, ch.back()).eps(kVaeNormEps)));
  conv_out = register_module(
      "conv_out", Conv2d(torch::nn::Conv2dOptions(ch.back(), 2 * cfg.latent_channels, 3).padding(1)));
}

at::Tensor EncoderImpl::forward(const at::Tensor& x) {
  at::Tensor h = cpu_conv2d(conv_in, x);
  for (auto& block : blocks_) {
    stop_point();
    h = block(h);
  }
  h = mid_block(h);
  stop_point();
  return cpu_conv2d(conv_out, silu_per_sample_(conv_norm_out(h)));
}

}  // namespace ftdr::torchbe
