// samplers/euler_ancestral_sampler.hpp: Euler ancestral (k-diffusion's sample_euler_ancestral, eta 1), as
// diffusers' EulerAncestralDiscreteScheduler: an Euler step down to sigma_down, then fresh noise of
// scale sigma_up. Needs a noise draw at every step, the last included (where sigma_up = 0), because
// diffusers draws there too and the generator must advance identically.
#pragma once
#include "samplers/k_sampler.hpp"

namespace ftdr::torchbe {

class EulerAncestralSampler : public KSampler {
 public:
  explicit EulerAncestralSampler(SchedulerConfig cfg) : KSampler(std::move(cfg)) {}
  at::Tensor step(const at::Tensor& model_output, int i, const at::Tensor& sample,
                  const at::Tensor& noise) override;
  bool needs_noise(int) const override { return true; }
  SamplerState state() const override { return {}; }
  void load_state(const SamplerState&) override {}
};

}  // namespace ftdr::torchbe
