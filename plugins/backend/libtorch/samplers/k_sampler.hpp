// samplers/k_sampler.hpp: what Euler, Euler ancestral and LMS share: the sigma schedule of diffusers'
// *DiscreteScheduler classes (k-diffusion's parameterisation x = x0 + sigma * eps).
//
// Timesteps follow timestep_spacing (fractional float32 values for "linspace"); sigma per timestep is
// linearly interpolated in t from the training sigmas sqrt((1 - alphas_cumprod) / alphas_cumprod), then
// the final sigma (0, or the smallest training sigma for final_sigmas_type "sigma_min"). With
// use_karras_sigmas (Euler, LMS) the sigmas are Karras' and the timesteps are mapped back from them.
#pragma once
#include "samplers/sampler.hpp"

namespace ftdr::torchbe {

class KSampler : public Sampler {
 public:
  void set_timesteps(int n) override;
  // sigma_max for "linspace"/"trailing" spacing, sqrt(sigma_max^2 + 1) for "leading" (diffusers).
  double init_noise_sigma() const override;
  // x / sqrt(sigma_i^2 + 1): the UNet sees unit-variance input.
  at::Tensor scale_model_input(const at::Tensor& x, int i) const override;

 protected:
  using Sampler::Sampler;
  float sigma(int i) const { return static_cast<float>(sigmas_.at(static_cast<size_t>(i))); }
  // The denoised estimate x0 from the model output at noise level sigma, per prediction_type.
  // Ref: diffusers EulerDiscreteScheduler.step ("1. compute predicted original sample")
  at::Tensor predict_x0(const at::Tensor& model_output, const at::Tensor& sample, float sigma) const;
};

}  // namespace ftdr::torchbe
