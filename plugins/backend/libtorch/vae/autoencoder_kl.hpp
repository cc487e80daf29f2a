// vae/autoencoder_kl.hpp: diffusers' AutoencoderKL (the SD VAE).
//
//   AutoencoderKL vae(folder.vae);
//   load_module_weights(*vae, SafeTensorsFile::open(folder.vae_weights), at::kFloat);
//   at::Tensor image = vae->decode(latents / folder.vae.scaling_factor);  // raw, about [-1, 1]
//
// Weight keys as diffusers 0.31 stores them (encoder.mid_block.attentions.0.to_q.weight, quant_conv,
// post_quant_conv, ...).
#pragma once
#include <torch/nn.h>

#include <utility>

#include "nn/attention.hpp"
#include "nn/conv_2d.hpp"
#include "vae/decoder.hpp"
#include "vae/encoder.hpp"
#include "vae/vae_config.hpp"

namespace ftdr::torchbe {

class AutoencoderKLImpl : public torch::nn::Module {
 public:
  explicit AutoencoderKLImpl(const VaeConfig& cfg);

  // z [B, latent_channels, h, w], already divided by scaling_factor -> [B, out_channels, h*f, w*f],
  // raw (unclamped) decoder output.
  at::Tensor decode(const at::Tensor& z);
  // x [B, in_channels, H, W] in [-1, 1] -> (mean, logvar) of the latent distribution, logvar
  // clamped to [-30, 20]; mean is NOT multiplied by scaling_factor.
  std::pair<at::Tensor, at::Tensor> encode(const at::Tensor& x);

  void set_attention(const AttentionSettings& settings) { *settings_ = settings; }
  const VaeConfig& config() const { return cfg_; }

  Encoder encoder{nullptr};
  Decoder decoder{nullptr};
  Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};

 private:
  VaeConfig cfg_;
  AttentionSettingsPtr settings_;
};
TORCH_MODULE(AutoencoderKL);

}  // namespace ftdr::torchbe
