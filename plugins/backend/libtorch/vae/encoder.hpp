// vae/encoder.hpp: diffusers' VAE Encoder: conv_in -> DownEncoderBlock2Ds -> UNetMidBlock2D ->
// GroupNorm -> SiLU -> conv_out to 2 * latent_channels (mean and logvar).
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/conv_2d.hpp"
#include "nn/group_norm.hpp"
#include "vae/down_encoder_block_2d.hpp"
#include "vae/unet_mid_block_2d.hpp"
#include "vae/vae_config.hpp"

namespace ftdr::torchbe {

class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(const VaeConfig& cfg, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& x);

  Conv2d conv_in{nullptr};
  torch::nn::ModuleList down_blocks{nullptr};
  UNetMidBlock2D mid_block{nullptr};
  GroupNorm conv_norm_out{nullptr};
  Conv2d conv_out{nullptr};

 private:
  std::vector<DownEncoderBlock2D> blocks_;
};
TORCH_MODULE(Encoder);

}  // namespace ftdr::torchbe
