// tools/diffusion_math.hpp: the training-side diffusion math of the demo model: SD's scaled_linear
// noise schedule (so the stock SD samplers apply unchanged) and a small DDIM sampler used only to
// monitor training (the shipped model is evaluated through the backend's pipeline, eval_demo_model).
#pragma once
#include <ATen/ATen.h>

#include "clip/clip_text_model.hpp"
#include "unet/unet_2d_condition_model.hpp"
#include "vae/autoencoder_kl.hpp"

namespace ftdr::demo {

// alphas_cumprod [1000] float32 of betas = linspace(sqrt(0.00085), sqrt(0.012), 1000)^2.
// Ref: diffusers DDPMScheduler, beta_schedule="scaled_linear".
at::Tensor sd_alphas_cumprod();

struct PreviewNets {
  torchbe::CLIPTextModel& text_encoder;
  torchbe::UNet2DConditionModel& unet;
  torchbe::AutoencoderKL& vae;
  double scaling_factor;
};

// Deterministic DDIM (eta 0, "trailing" spacing) with classifier-free guidance; returns images
// [B, 3, 64, 64] in about [-1, 1]. ids/uncond_ids: [B, 77].
// Ref: Song et al. 2020, eq. 12 with sigma = 0; diffusers DDIMScheduler.step.
at::Tensor ddim_preview(const PreviewNets& nets, const at::Tensor& ids, const at::Tensor& uncond_ids,
                        at::Generator& gen, int steps, double guidance);

}  // namespace ftdr::demo
