// samplers/euler_sampler.hpp: Euler's method on the probability-flow ODE (Karras et al. 2022, Alg. 2,
// without churn), as diffusers' EulerDiscreteScheduler. Deterministic, no history.
#pragma once
#include "samplers/k_sampler.hpp"

namespace ftdr::torchbe {

class EulerSampler : public KSampler {
 public:
  explicit EulerSampler(SchedulerConfig cfg) : KSampler(std::move(cfg)) {}
  at::Tensor step(const at::Tensor& model_output, int i, const at::Tensor& sample,
                  const at::Tensor& noise) override;
  SamplerState state() const override { return {}; }
  void load_state(const SamplerState&) override {}
};

}  // namespace ftdr::torchbe
