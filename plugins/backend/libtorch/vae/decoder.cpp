// vae/decoder.cpp  (Ref: diffusers models/autoencoders/vae.py Decoder)
#include "vae/decoder.hpp"
#include "nn/stop_point.hpp"

#include "nn/conv_2d.hpp"
#include "nn/cpu_conv.hpp"
#include "nn/group_norm.hpp"
#include "nn/per_sample_activation.hpp"

namespace ftdr::torchbe {

DecoderImpl::DecoderImpl(const VaeConfig& cfg, AttentionSettingsPtr settings) {
  std::vector<int64_t> ch(cfg.block_out_channels.rbegin(), cfg.block_out_channels.rend());
  conv_in = register_module("conv_in",
                            Conv2d(torch::nn::Conv2dOptions(cfg.latent_channels, ch.front(), 3).padding(1)));
  UNetMidBlock2DOptions mid;
  mid.in_channels = ch.front();
  mid.eps = kVaeNormEps;
  mid.groups = cfg.norm_num_groups;
  mid.add_attention = cfg.mid_block_add_attention;
  mid_block = register_module("mid_block", UNetMidBlock2D(mid, settings));
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  int64_t output_channel = ch.front();
  for (size_t i = 0; i < ch.size(); ++i) {
    VaeBlockOptions o;
    o.in_channels = output_channel;
    output_channel = ch[i];
    o.out_channels = output_channel;
    o.num_layers = cfg.layers_per_block + 1;
    o.add_sample = i + 1 < ch.size();
    o.eps = kVaeNormEps;
    o.groups = cfg.norm_num_groups;
    blocks_.emplace_back(o);
    up_blocks->push_back(blocks_.back());
  }
  conv_norm_out = register_module(
      "conv_norm_out",
      GroupNorm(torch::nn::GroupNormOptions(cfg.norm_num_groups, ch.back()).eps(kVaeNormEps)));
  conv_out = register_module("conv_out",
                             Conv2d(torch::nn::Conv2dOptions(ch.back(), cfg.out_channels, 3).padding(1)));
}

at::Tensor DecoderImpl::forward(const at::Tensor& z) {
  at::Tensor h = mid_block(cpu_conv2d(conv_in, z));
  // On a CPU where oneDNN's channels-last convolutions are fast, the up blocks run channels-last:
  // oneDNN then reads and writes the activations as they are, where a contiguous input is reordered
  // into its blocked layout and the output converted back, two more full-size buffers per
  // convolution (at 512x512 with 256 channels, 268 MiB each). Elsewhere channels-last convolutions
  // took 1.61x the time (nn/cpu_conv.hpp): the activations stay contiguous, and cpu_conv2d
  // convolves the large ones in bands of rows, so those buffers are a band's.
  if (h.device().is_cpu() && cpu_channels_last_convs_fast()) h = h.contiguous(at::MemoryFormat::ChannelsLast);
  // h is moved into each block, and into the last norm: the decoder's peak (the last level's first
  // resnet, and the upsampler before it) then holds no buffer the next op has no more use for.
  for (auto& block : blocks_) {
    stop_point();
    h = block(std::move(h));
  }
  stop_point();
  return cpu_conv2d(conv_out, silu_per_sample_(conv_norm_out->forward_owned(std::move(h)))).contiguous();
}

}  // namespace ftdr::torchbe
