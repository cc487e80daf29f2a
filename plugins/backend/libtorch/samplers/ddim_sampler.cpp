#include "samplers/ddim_sampler.hpp"

#include <cmath>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

DDIMSampler::DDIMSampler(SchedulerConfig cfg, double eta)
    : Sampler(std::move(cfg)),
      eta_(eta),
      final_alpha_cumprod_(cfg_.set_alpha_to_one ? 1.0f : schedule_.alpha_cumprod(0)) {
  if (!(eta >= 0) || !std::isfinite(eta)) {
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "eta: expected a finite value >= 0, got " + std::to_string(eta));
  }
}

void DDIMSampler::set_timesteps(int n) {
  check_step_count(n);
  num_inference_steps_ = n;
  timesteps_ = spaced_timesteps(cfg_.timestep_spacing, cfg_.num_train_timesteps, n, cfg_.steps_offset,
                                TimestepKind::integer);
  check_timesteps_in_range(n);
}

// Ref: diffusers scheduling_ddim.py DDIMScheduler.step (use_clipped_model_output = False).
at::Tensor DDIMSampler::step(const at::Tensor& model_output_in, int i, const at::Tensor& sample_in,
                             const at::Tensor& noise) {
  check_index(i);
  const at::Tensor model_output = as_float(model_output_in), sample = as_float(sample_in);
  // diffusers steps back by num_train / n whatever the spacing.
  const int t = static_cast<int>(timesteps_[static_cast<size_t>(i)]);
  const int prev_t = t - cfg_.num_train_timesteps / num_inference_steps_;

  const float alpha_prod_t = schedule_.alpha_cumprod(t);
  const float alpha_prod_t_prev = prev_t >= 0 ? schedule_.alpha_cumprod(prev_t) : final_alpha_cumprod_;
  const float beta_prod_t = 1 - alpha_prod_t;
  const float beta_prod_t_prev = 1 - alpha_prod_t_prev;

  at::Tensor x0, eps;
  if (cfg_.prediction_type == "epsilon") {
    x0 = (sample - std::sqrt(beta_prod_t) * model_output) / std::sqrt(alpha_prod_t);
    eps = model_output;
  } else if (cfg_.prediction_type == "sample") {
    x0 = model_output;
    eps = (sample - std::sqrt(alpha_prod_t) * x0) / std::sqrt(beta_prod_t);
  } else {  // v_prediction
    x0 = std::sqrt(alpha_prod_t) * sample - std::sqrt(beta_prod_t) * model_output;
    eps = std::sqrt(alpha_prod_t) * model_output + std::sqrt(beta_prod_t) * sample;
  }
  if (cfg_.clip_sample) {
    const double r = cfg_.clip_sample_range;
    x0 = x0.clamp(-r, r);
  }

  // sigma_t of eq. 16, scaled by eta.
  const float variance = (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev);
  const float std_dev_t = static_cast<float>(eta_) * std::sqrt(variance);

  const at::Tensor direction = std::sqrt(1 - alpha_prod_t_prev - std_dev_t * std_dev_t) * eps;
  at::Tensor prev = std::sqrt(alpha_prod_t_prev) * x0 + direction;
  if (eta_ > 0) {
    if (!noise.defined())
      throw sdk::Error(sdk::ErrorKind::internal, "ddim: eta > 0 step without a noise draw");
    prev = prev + std_dev_t * as_float(noise);
  }
  return prev;
}

}  // namespace ftdr::torchbe
