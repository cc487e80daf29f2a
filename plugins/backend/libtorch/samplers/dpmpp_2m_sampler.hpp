// samplers/dpmpp_2m_sampler.hpp: DPM-Solver++(2M) (Lu et al. 2022, arXiv:2211.01095), as diffusers'
// DPMSolverMultistepScheduler with algorithm_type "dpmsolver++", solver_order 2.
//
// The model output is turned into a data prediction x0 (alpha_t = 1/sqrt(sigma^2+1),
// sigma_t = sigma * alpha_t); each step is exponential-integrator first order, plus a second-order
// correction from the previous x0 once one exists. lower_order_final: the last step (and, below 15
// steps, with final_sigmas_type "zero" always) is first order. Karras sigmas with the
// dpmpp_2m_karras name: timesteps are the rounded training timesteps of those sigmas.
// History: the previous x0 and how many steps have run (state() saves them).
#pragma once
#include "samplers/sampler.hpp"

namespace ftdr::torchbe {

class DPMPP2MSampler : public Sampler {
 public:
  explicit DPMPP2MSampler(SchedulerConfig cfg);
  void set_timesteps(int n) override;
  at::Tensor step(const at::Tensor& model_output, int i, const at::Tensor& sample,
                  const at::Tensor& noise) override;
  SamplerState state() const override;
  void load_state(const SamplerState& state) override;

 private:
  struct AlphaSigma {
    float alpha, sigma, lambda;  // lambda = log(alpha) - log(sigma), the half log-SNR
  };
  AlphaSigma alpha_sigma(int k) const;  // at sigmas_[k]
  at::Tensor to_x0(const at::Tensor& model_output, const at::Tensor& sample, int i) const;
  at::Tensor first_order(const at::Tensor& x0, const at::Tensor& sample, int i) const;
  at::Tensor second_order(const at::Tensor& x0, const at::Tensor& prev_x0, const at::Tensor& sample,
                          int i) const;
  int last_timestep() const;

  at::Tensor prev_x0_;  // model_outputs[-2] in diffusers
  int lower_order_nums_ = 0;
  int steps_done_ = 0;
};

}  // namespace ftdr::torchbe
