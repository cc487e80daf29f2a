// samplers/pndm_sampler.hpp: PNDM's pseudo linear multistep method (PLMS; Liu et al. 2022,
// arXiv:2202.09778), as diffusers' PNDMScheduler with skip_prk_steps (the SD 1.x default).
//
// n steps run n + 1 UNet calls: the second timestep repeats ([751, 501, 501, 251, 1] for n = 4),
// because the first step is redone with the average of two noise predictions before the
// Adams-Bashforth-style combinations of up to 4 past predictions take over. FTDR always runs PLMS:
// a file with skip_prk_steps false (diffusers would start with 12 Runge-Kutta calls) runs PLMS too.
// History: the last 4 noise predictions, the held first sample and the step counter.
#pragma once
#include <deque>

#include "samplers/sampler.hpp"

namespace ftdr::torchbe {

class PNDMSampler : public Sampler {
 public:
  explicit PNDMSampler(SchedulerConfig cfg);
  void set_timesteps(int n) override;
  at::Tensor step(const at::Tensor& model_output, int i, const at::Tensor& sample,
                  const at::Tensor& noise) override;
  SamplerState state() const override;
  void load_state(const SamplerState& state) override;

 private:
  // Formula (9) of the paper: x_{t-delta} from x_t and the combined noise prediction.
  at::Tensor prev_sample(const at::Tensor& sample, int t, int prev_t, const at::Tensor& eps) const;

  int num_inference_steps_ = 0;
  float final_alpha_cumprod_;
  std::deque<at::Tensor> ets_;  // past noise predictions, oldest first, at most 4
  at::Tensor cur_sample_;       // the sample of step 0, redone at step 1
  int counter_ = 0;
};

}  // namespace ftdr::torchbe
