// vae/autoencoder_kl.cpp  (Ref: diffusers models/autoencoders/autoencoder_kl.py, vae.py
// DiagonalGaussianDistribution)
#include "vae/autoencoder_kl.hpp"

#include "nn/conv_2d.hpp"
#include "nn/cpu_conv.hpp"
#include "nn/each_image.hpp"

#include <c10/core/GradMode.h>

#include <stdexcept>

namespace ftdr::torchbe {

namespace {
constexpr double kLogvarMin = -30.0, kLogvarMax = 20.0;  // DiagonalGaussianDistribution's clamp
}

AutoencoderKLImpl::AutoencoderKLImpl(const VaeConfig& cfg, VaeParts parts)
    : cfg_(cfg), settings_(std::make_shared<AttentionSettings>()) {
  const bool with_encoder = parts == VaeParts::encoder_and_decoder;
  if (with_encoder) encoder = register_module("encoder", Encoder(cfg, settings_));
  decoder = register_module("decoder", Decoder(cfg, settings_));
  const int64_t moments = 2 * cfg.latent_channels;
  if (with_encoder && cfg.use_quant_conv)
    quant_conv = register_module("quant_conv", Conv2d(torch::nn::Conv2dOptions(moments, moments, 1)));
  if (cfg.use_post_quant_conv)
    post_quant_conv = register_module(
        "post_quant_conv", Conv2d(torch::nn::Conv2dOptions(cfg.latent_channels, cfg.latent_channels, 1)));
}

at::Tensor AutoencoderKLImpl::decode(const at::Tensor& z) {
  // On the CPU in inference one image at a time: the decoder's activations at full resolution are
  // the job's largest tensors (about 0.7 GB per SD-1.5 image at 512x512), so a batch's peak stays
  // one image's, and every image runs as it does alone.
  if (z.size(0) > 1 && z.device().is_cpu() && !c10::GradMode::is_enabled())
    return each_image(z, [this](const at::Tensor& image) { return decode(image); });
  return decoder(post_quant_conv ? cpu_conv2d(post_quant_conv, z) : z);
}

std::pair<at::Tensor, at::Tensor> AutoencoderKLImpl::encode(const at::Tensor& x) {
  if (!encoder) throw std::logic_error("AutoencoderKL::encode: this VAE was built without its encoder");
  at::Tensor moments = encoder(x);
  if (quant_conv) moments = cpu_conv2d(quant_conv, moments);
  auto parts = moments.chunk(2, 1);
  return {parts[0], at::clamp(parts[1], kLogvarMin, kLogvarMax)};
}

}  // namespace ftdr::torchbe
