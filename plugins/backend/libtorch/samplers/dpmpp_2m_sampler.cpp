#include "samplers/dpmpp_2m_sampler.hpp"

#include <algorithm>
#include <cmath>

#include "ftdr/sdk/error.hpp"
#include "samplers/numpy_compat.hpp"

namespace ftdr::torchbe {

DPMPP2MSampler::DPMPP2MSampler(SchedulerConfig cfg) : Sampler(std::move(cfg)) {
  if (cfg_.algorithm_type != "dpmsolver++" || (cfg_.solver_order != 1 && cfg_.solver_order != 2)) {
    throw sdk::Error(sdk::ErrorKind::model_error,
                     "scheduler_config.json: FTDR's DPM sampler supports algorithm_type dpmsolver++ with "
                     "solver_order 1 or 2, got " +
                         cfg_.algorithm_type + " order " + std::to_string(cfg_.solver_order));
  }
}

// num_train minus the timesteps whose half log-SNR lies below lambda_min_clipped (none by default).
int DPMPP2MSampler::last_timestep() const {
  if (!std::isfinite(cfg_.lambda_min_clipped)) return cfg_.num_train_timesteps;
  // searchsorted(flip(lambda_t), lambda_min_clipped): lambda_t decreases with t.
  const auto& ac = schedule_.alphas_cumprod();
  int clipped = 0;
  for (auto it = ac.rbegin(); it != ac.rend(); ++it) {
    const float lambda = std::log(std::sqrt(*it)) - std::log(std::sqrt(1.0f - *it));
    if (!(lambda < cfg_.lambda_min_clipped)) break;
    ++clipped;
  }
  return cfg_.num_train_timesteps - clipped;
}

// Ref: diffusers DPMSolverMultistepScheduler.set_timesteps.
void DPMPP2MSampler::set_timesteps(int n) {
  check_step_count(n);
  std::vector<double> t = dpm_spaced_timesteps(cfg_.timestep_spacing, cfg_.num_train_timesteps,
                                               last_timestep(), n, cfg_.steps_offset);
  const std::vector<float>& train = schedule_.train_sigmas();
  std::vector<double> s;
  if (cfg_.use_karras_sigmas) {
    std::vector<float> log_sigmas;
    for (float v : train) log_sigmas.push_back(std::log(v));
    s = karras_sigmas(train.front(), train.back(), n);
    t.clear();
    for (double si : s) t.push_back(np_round(sigma_to_t(si, log_sigmas)));
  } else {
    for (double ti : t) s.push_back(np_interp(ti, train));
  }
  s.push_back(cfg_.final_sigmas_type == "sigma_min" ? train.front() : 0.0);
  timesteps_ = t;
  sigmas_.clear();
  for (double si : s) sigmas_.push_back(static_cast<float>(si));
  prev_x0_ = at::Tensor();
  lower_order_nums_ = 0;
  steps_done_ = 0;
}

DPMPP2MSampler::AlphaSigma DPMPP2MSampler::alpha_sigma(int k) const {
  const float sigma = static_cast<float>(sigmas_.at(static_cast<size_t>(k)));
  AlphaSigma r;
  r.alpha = 1.0f / std::sqrt(sigma * sigma + 1.0f);
  r.sigma = sigma * r.alpha;
  r.lambda = std::log(r.alpha) - std::log(r.sigma);  // +inf at sigma = 0
  return r;
}

// Ref: diffusers DPMSolverMultistepScheduler.convert_model_output (dpmsolver++ branch).
at::Tensor DPMPP2MSampler::to_x0(const at::Tensor& model_output, const at::Tensor& sample, int i) const {
  const AlphaSigma s = alpha_sigma(i);
  if (cfg_.prediction_type == "epsilon") return (sample - s.sigma * model_output) / s.alpha;
  if (cfg_.prediction_type == "v_prediction") return s.alpha * sample - s.sigma * model_output;
  return model_output;
}

// Ref: diffusers DPMSolverMultistepScheduler.dpm_solver_first_order_update (DPM-Solver++(1) = DDIM).
at::Tensor DPMPP2MSampler::first_order(const at::Tensor& x0, const at::Tensor& sample, int i) const {
  const AlphaSigma s = alpha_sigma(i), t = alpha_sigma(i + 1);
  const float h = t.lambda - s.lambda;
  return (t.sigma / s.sigma) * sample - (t.alpha * (std::exp(-h) - 1.0f)) * x0;
}

// Ref: diffusers DPMSolverMultistepScheduler.multistep_dpm_solver_second_order_update.
at::Tensor DPMPP2MSampler::second_order(const at::Tensor& m0, const at::Tensor& m1, const at::Tensor& sample,
                                        int i) const {
  const AlphaSigma s1 = alpha_sigma(i - 1), s0 = alpha_sigma(i), t = alpha_sigma(i + 1);
  const float h = t.lambda - s0.lambda, h_0 = s0.lambda - s1.lambda;
  const float r0 = h_0 / h;
  const at::Tensor& D0 = m0;
  const at::Tensor D1 = (1.0f / r0) * (m0 - m1);
  const float phi = t.alpha * (std::exp(-h) - 1.0f);
  if (cfg_.solver_type == "heun") {
    const float phi2 = t.alpha * ((std::exp(-h) - 1.0f) / h + 1.0f);
    return (t.sigma / s0.sigma) * sample - phi * D0 + phi2 * D1;
  }
  return (t.sigma / s0.sigma) * sample - phi * D0 - (0.5f * phi) * D1;  // midpoint
}

// Ref: diffusers DPMSolverMultistepScheduler.step.
at::Tensor DPMPP2MSampler::step(const at::Tensor& model_output, int i, const at::Tensor& sample_in,
                                const at::Tensor& /*noise*/) {
  check_index(i);
  if (i != steps_done_) {
    throw sdk::Error(sdk::ErrorKind::internal, "dpmpp_2m: step " + std::to_string(i) + " after " +
                                                   std::to_string(steps_done_) + " steps (load_state first)");
  }
  const int n = num_steps();
  const bool lower_order_final = i == n - 1 && (cfg_.euler_at_final || (cfg_.lower_order_final && n < 15) ||
                                                cfg_.final_sigmas_type == "zero");
  const at::Tensor sample = as_float(sample_in);
  const at::Tensor x0 = to_x0(as_float(model_output), sample, i);

  at::Tensor prev;
  if (cfg_.solver_order == 1 || lower_order_nums_ < 1 || lower_order_final) {
    prev = first_order(x0, sample, i);
  } else {
    prev = second_order(x0, prev_x0_, sample, i);
  }
  prev_x0_ = x0;
  if (lower_order_nums_ < cfg_.solver_order) ++lower_order_nums_;
  ++steps_done_;
  return prev;
}

SamplerState DPMPP2MSampler::state() const {
  SamplerState st{{"steps_done", counter_tensor(steps_done_)},
                  {"lower_order_nums", counter_tensor(lower_order_nums_)}};
  if (prev_x0_.defined()) st.emplace_back("prev_x0", prev_x0_);
  return st;
}

void DPMPP2MSampler::load_state(const SamplerState& st) {
  steps_done_ = static_cast<int>(state_entry(st, "steps_done").item<int64_t>());
  lower_order_nums_ = static_cast<int>(state_entry(st, "lower_order_nums").item<int64_t>());
  prev_x0_ = at::Tensor();
  for (const auto& [key, value] : st) {
    if (key == "prev_x0") prev_x0_ = value;
  }
}

}  // namespace ftdr::torchbe
