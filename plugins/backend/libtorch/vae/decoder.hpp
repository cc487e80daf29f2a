// vae/decoder.hpp: diffusers' VAE Decoder: conv_in -> UNetMidBlock2D -> UpDecoderBlock2Ds ->
// GroupNorm -> SiLU -> conv_out to out_channels.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/conv_2d.hpp"
#include "nn/group_norm.hpp"
#include "vae/unet_mid_block_2d.hpp"
#include "vae/up_decoder_block_2d.hpp"
#include "vae/vae_config.hpp"

namespace ftdr::torchbe {

class DecoderImpl : public torch::nn::Module {
 public:
  DecoderImpl(const VaeConfig& cfg, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& z);

  Conv2d conv_in{nullptr};
  UNetMidBlock2D mid_block{nullptr};
  torch::nn::ModuleList up_blocks{nullptr};
  GroupNorm conv_norm_out{nullptr};
  Conv2d conv_out{nullptr};

 private:
  std::vector<UpDecoderBlock2D> blocks_;
};
TORCH_MODULE(Decoder);

}  // namespace ftdr::torchbe
