// samplers/ddim_sampler.hpp: DDIM (Song et al. 2020, arXiv:2010.02502, eq. 12), as diffusers'
// DDIMScheduler. eta = 0 is deterministic; eta > 0 adds eta-scaled posterior noise at every step
// (needs_noise() is then true for every step, as diffusers draws at every step). No history.
#pragma once
#include "samplers/sampler.hpp"

namespace ftdr::torchbe {

class DDIMSampler : public Sampler {
 public:
  DDIMSampler(SchedulerConfig cfg, double eta);
  void set_timesteps(int n) override;
  at::Tensor step(const at::Tensor& model_output, int i, const at::Tensor& sample,
                  const at::Tensor& noise) override;
  bool needs_noise(int) const override { return eta_ > 0; }
  SamplerState state() const override { return {}; }
  void load_state(const SamplerState&) override {}

 private:
  double eta_;
  int num_inference_steps_ = 0;
  float final_alpha_cumprod_;
};

}  // namespace ftdr::torchbe
