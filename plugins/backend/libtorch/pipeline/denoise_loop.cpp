#include "pipeline/denoise_loop.hpp"

#include <c10/core/InferenceMode.h>

#include "ftdr/sdk/error.hpp"
#include "pipeline/guidance.hpp"

namespace ftdr::torchbe {

at::Tensor sdxl_time_ids(int height, int width) {
  const double h = height, w = width;
  return at::tensor({h, w, 0.0, 0.0, h, w}, at::kFloat).unsqueeze(0);
}

at::Tensor denoise_step(UNet2DConditionModel& unet, Sampler& sampler, const at::Tensor& embeddings,
                        const at::Tensor& latents, double cfg, int i, NoiseSource& noise,
                        const UNetAddedConditions& added) {
  const at::Tensor x_in = sampler.scale_model_input(guidance_input(latents, cfg), i);
  const double t = sampler.timesteps().at(static_cast<size_t>(i));
  const at::Tensor timestep =
      at::scalar_tensor(t, at::TensorOptions().dtype(at::kFloat).device(latents.device()));
  const at::Tensor out = unet->forward(x_in.to(embeddings.scalar_type()), timestep, embeddings, added);
  const at::Tensor eps = combine_guidance(out, cfg).to(at::kFloat);
  at::Tensor step_noise;
  if (sampler.needs_noise(i)) step_noise = noise.draw(latents.sizes()).to(latents.device());
  return sampler.step(eps, i, latents, step_noise);
}

at::Tensor denoise(UNet2DConditionModel& unet, Sampler& sampler, const at::Tensor& cond,
                   const at::Tensor& uncond, at::Tensor latents, double cfg, int start_step,
                   NoiseSource& noise, const StepCallback& on_step, const PooledConditioning& pooled) {
  c10::InferenceMode inference;  // no autograd bookkeeping (version counters, views) per op
  const int total = sampler.num_steps();
  if (start_step < 0 || start_step > total) {
    throw sdk::Error(sdk::ErrorKind::internal, "denoise: start_step " + std::to_string(start_step) +
                                                   " outside 0.." + std::to_string(total));
  }
  latents = latents.to(at::kFloat);
  if (start_step == 0) latents = latents * sampler.init_noise_sigma();
  const at::Tensor embeddings = guidance_embeddings(cond, uncond, latents.size(0), cfg).to(latents.device());
  UNetAddedConditions added;
  if (pooled.cond.defined()) {
    added.text_embeds = guidance_embeddings(pooled.cond, pooled.uncond, latents.size(0), cfg)
                            .to(latents.device(), embeddings.scalar_type());
    added.time_ids = pooled.time_ids.to(latents.device(), embeddings.scalar_type())
                         .expand({added.text_embeds.size(0), -1});
  }
  for (int i = start_step; i < total; ++i) {
    latents = denoise_step(unet, sampler, embeddings, latents, cfg, i, noise, added);
    if (on_step) on_step(i + 1, latents);
  }
  return latents;
}

}  // namespace ftdr::torchbe
