// vae/autoencoder_kl.hpp: diffusers' AutoencoderKL (the SD VAE).
//
//   AutoencoderKL vae(folder.vae, VaeParts::decoder);
//   load_module_weights(*vae, SafeTensorsFile::open(folder.vae_weights), at::kFloat);
//   at::Tensor image = vae->decode(latents / folder.vae.scaling_factor);  // raw, about [-1, 1]
//
// Weight keys as diffusers 0.31 stores them (encoder.mid_block.attentions.0.to_q.weight, quant_conv,
// post_quant_conv, ...).
#pragma once
#include <torch/nn.h>

#include <string>
#include <utility>
#include <vector>

#include "nn/attention.hpp"
#include "nn/conv_2d.hpp"
#include "vae/decoder.hpp"
#include "vae/encoder.hpp"
#include "vae/vae_config.hpp"

namespace ftdr::torchbe {

// Which halves a VAE is built with. Text-to-image only decodes, so the runtime builds (and loads)
// the decoder alone: the SD VAE's encoder is 34M parameters, 137 MB in float32, that a job never
// runs. Weight files hold both; the encoder's keys are then not read.
enum class VaeParts { encoder_and_decoder, decoder };

// How the keys of what VaeParts::decoder leaves out begin (after a file's prefix), in diffusers' and
// in single-file naming alike: WeightSource::ignoring(kVaeEncoderKeys) skips them.
inline const std::vector<std::string> kVaeEncoderKeys{"encoder.", "quant_conv."};

class AutoencoderKLImpl : public torch::nn::Module {
 public:
  explicit AutoencoderKLImpl(const VaeConfig& cfg, VaeParts parts = VaeParts::encoder_and_decoder);

  // z [B, latent_channels, h, w], already divided by scaling_factor -> [B, out_channels, h*f, w*f],
  // raw (unclamped) decoder output. On the CPU in inference the images are decoded one by one.
  at::Tensor decode(const at::Tensor& z);
  // x [B, in_channels, H, W] in [-1, 1] -> (mean, logvar) of the latent distribution, logvar
  // clamped to [-30, 20]; mean is NOT multiplied by scaling_factor. Throws std::logic_error when the
  // VAE was built without its encoder.
  std::pair<at::Tensor, at::Tensor> encode(const at::Tensor& x);

  void set_attention(const AttentionSettings& settings) { *settings_ = settings; }
  const VaeConfig& config() const { return cfg_; }

  Encoder encoder{nullptr};  // null when built with VaeParts::decoder
  Decoder decoder{nullptr};
  Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};

 private:
  VaeConfig cfg_;
  AttentionSettingsPtr settings_;
};
TORCH_MODULE(AutoencoderKL);

}  // namespace ftdr::torchbe
