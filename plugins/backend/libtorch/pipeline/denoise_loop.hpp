// pipeline/denoise_loop.hpp: the denoising loop of StableDiffusionPipeline, one sampler step at a time.
//
//   NoiseSource noise(seed, first_image, batch);
//   at::Tensor latents = noise.draw({batch, 4, h, w}).to(device);
//   sampler->set_timesteps(steps);
//   latents = denoise(unet, *sampler, cond, uncond, latents, 7.5, 0, noise,
//                     [&](int done, const at::Tensor& x) { report(done, x); });
//
// start_step 0 scales the latents by the sampler's init_noise_sigma first (fresh noise); a resume
// (start_step k > 0) passes the latents after step k with the sampler's and the NoiseSource's state
// restored, and continues without scaling. on_step(done, latents) runs after every step with the
// number of iterations done (1..sampler.num_steps()); it may throw to stop the run (cancel, timeout,
// NaN check) and the exception propagates unchanged. The UNet runs under at::NoGradGuard.
#pragma once
#include <ATen/ATen.h>

#include <functional>

#include "pipeline/seeds.hpp"
#include "samplers/sampler.hpp"
#include "unet/unet_2d_condition_model.hpp"

namespace ftdr::torchbe {

using StepCallback = std::function<void(int step, const at::Tensor& latents)>;

// SDXL (a UNet with the text_time embedding): the pooled prompt and negative prompt embeddings
// [1 or B, P] and add_time_ids [1, 6]; guided like the text embeddings (uncond rows first).
// Undefined for SD 1.x/2.x.
struct PooledConditioning {
  at::Tensor cond, uncond, time_ids;
};

// diffusers' add_time_ids of an SDXL image: (original h, w, crop top, crop left, target h, w) with
// the original and target size the image's and no crop. [1, 6] float32.
at::Tensor sdxl_time_ids(int height, int width);

// cond / uncond: text embeddings [1 or B, 77, D] (uncond is unused when cfg <= 1).
// latents: [B, C, h, w] on the UNet's device. Returns the final latents (float32).
at::Tensor denoise(UNet2DConditionModel& unet, Sampler& sampler, const at::Tensor& cond,
                   const at::Tensor& uncond, at::Tensor latents, double cfg, int start_step,
                   NoiseSource& noise, const StepCallback& on_step, const PooledConditioning& pooled = {});

// One iteration i of that loop (exposed for tests and step-level tools).
at::Tensor denoise_step(UNet2DConditionModel& unet, Sampler& sampler, const at::Tensor& embeddings,
                        const at::Tensor& latents, double cfg, int i, NoiseSource& noise,
                        const UNetAddedConditions& added = {});

}  // namespace ftdr::torchbe
