// samplers/lms_sampler.hpp: linear multistep (order 4) on the probability-flow ODE, as diffusers'
// LMSDiscreteScheduler: the derivatives of the last (up to) 4 steps are combined with weights that are
// integrals of their Lagrange basis polynomials over [sigma_i, sigma_{i+1}].
//
// diffusers integrates those polynomials numerically (scipy quad, epsrel 1e-4); they are polynomials
// of degree <= 3, so FTDR integrates them exactly (4-point Gauss-Legendre, float64).
// History: the last 4 derivatives (state() saves them).
#pragma once
#include <deque>

#include "samplers/k_sampler.hpp"

namespace ftdr::torchbe {

class LMSSampler : public KSampler {
 public:
  static constexpr int kOrder = 4;

  explicit LMSSampler(SchedulerConfig cfg) : KSampler(std::move(cfg)) {}
  void set_timesteps(int n) override;
  at::Tensor step(const at::Tensor& model_output, int i, const at::Tensor& sample,
                  const at::Tensor& noise) override;
  SamplerState state() const override;
  void load_state(const SamplerState& state) override;

  // The weight of the derivative `current` steps back in step i, using `order` derivatives.
  double lms_coefficient(int order, int i, int current) const;

 private:
  std::deque<at::Tensor> derivatives_;  // oldest first, at most kOrder
  int steps_done_ = 0;
};

}  // namespace ftdr::torchbe
