#include "samplers/pndm_sampler.hpp"

#include <cmath>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

PNDMSampler::PNDMSampler(SchedulerConfig cfg)
    : Sampler(std::move(cfg)),
      final_alpha_cumprod_(cfg_.set_alpha_to_one ? 1.0f : schedule_.alpha_cumprod(0)) {}

void PNDMSampler::set_timesteps(int n) {
  check_step_count(n);
  num_inference_steps_ = n;
  // Ascending base timesteps, then PLMS order: all but the last, the second-to-last again, the last;
  // reversed. Ref: diffusers PNDMScheduler.set_timesteps (skip_prk_steps branch).
  std::vector<double> base = spaced_timesteps(cfg_.timestep_spacing, cfg_.num_train_timesteps, n,
                                              cfg_.steps_offset, TimestepKind::integer);
  std::reverse(base.begin(), base.end());
  std::vector<double> plms(base.begin(), base.end() - 1);
  if (base.size() >= 2) plms.push_back(base[base.size() - 2]);
  plms.push_back(base.back());
  timesteps_.assign(plms.rbegin(), plms.rend());
  check_timesteps_in_range(n);
  ets_.clear();
  cur_sample_ = at::Tensor();
  counter_ = 0;
}

at::Tensor PNDMSampler::prev_sample(const at::Tensor& sample, int t, int prev_t,
                                    const at::Tensor& eps_in) const {
  const float alpha_prod_t = schedule_.alpha_cumprod(t);
  const float alpha_prod_t_prev = prev_t >= 0 ? schedule_.alpha_cumprod(prev_t) : final_alpha_cumprod_;
  const float beta_prod_t = 1 - alpha_prod_t;
  const float beta_prod_t_prev = 1 - alpha_prod_t_prev;
  at::Tensor eps = eps_in;
  if (cfg_.prediction_type == "v_prediction") {
    eps = std::sqrt(alpha_prod_t) * eps_in + std::sqrt(beta_prod_t) * sample;
  }
  // (a_prev - a_t) / (sqrt(a_t) (sqrt(a_prev) + sqrt(a_t))) + 1 = sqrt(a_prev / a_t)
  const float sample_coeff = std::sqrt(alpha_prod_t_prev / alpha_prod_t);
  const float eps_denom =
      alpha_prod_t * std::sqrt(beta_prod_t_prev) + std::sqrt(alpha_prod_t * beta_prod_t * alpha_prod_t_prev);
  return sample_coeff * sample - (alpha_prod_t_prev - alpha_prod_t) * eps / eps_denom;
}

// Ref: diffusers scheduling_pndm.py PNDMScheduler.step_plms.
at::Tensor PNDMSampler::step(const at::Tensor& model_output_in, int i, const at::Tensor& sample_in,
                             const at::Tensor& /*noise*/) {
  check_index(i);
  if (i != counter_) {
    throw sdk::Error(sdk::ErrorKind::internal, "pndm: step " + std::to_string(i) + " after " +
                                                   std::to_string(counter_) + " steps (load_state first)");
  }
  const at::Tensor model_output = as_float(model_output_in);
  at::Tensor sample = as_float(sample_in);
  const int ratio = cfg_.num_train_timesteps / num_inference_steps_;
  int t = static_cast<int>(timesteps_[static_cast<size_t>(i)]);
  int prev_t = t - ratio;
  if (counter_ != 1) {
    if (ets_.size() > 3) ets_.pop_front();
    ets_.push_back(model_output);
  } else {
    // The repeated timestep: redo step 0 (from t + ratio to t) with the averaged prediction.
    prev_t = t;
    t = t + ratio;
  }

  at::Tensor eps;
  const size_t n = ets_.size();
  if (n == 1 && counter_ == 0) {
    eps = model_output;
    cur_sample_ = sample;
  } else if (n == 1 && counter_ == 1) {
    eps = (model_output + ets_[0]) / 2;
    sample = cur_sample_;
    cur_sample_ = at::Tensor();
  } else if (n == 2) {
    eps = (3 * ets_[1] - ets_[0]) / 2;
  } else if (n == 3) {
    eps = (23 * ets_[2] - 16 * ets_[1] + 5 * ets_[0]) / 12;
  } else {
    eps = (1.0 / 24) * (55 * ets_[3] - 59 * ets_[2] + 37 * ets_[1] - 9 * ets_[0]);
  }
  ++counter_;
  return prev_sample(sample, t, prev_t, eps);
}

SamplerState PNDMSampler::state() const {
  SamplerState st{{"counter", counter_tensor(counter_)},
                  {"ets", counter_tensor(static_cast<int64_t>(ets_.size()))}};
  for (size_t k = 0; k < ets_.size(); ++k) st.emplace_back("ets." + std::to_string(k), ets_[k]);
  if (cur_sample_.defined()) st.emplace_back("cur_sample", cur_sample_);
  return st;
}

void PNDMSampler::load_state(const SamplerState& st) {
  counter_ = static_cast<int>(state_entry(st, "counter").item<int64_t>());
  const auto count = state_entry(st, "ets").item<int64_t>();
  ets_.clear();
  for (int64_t k = 0; k < count; ++k) ets_.push_back(state_entry(st, "ets." + std::to_string(k)));
  cur_sample_ = at::Tensor();
  for (const auto& [key, value] : st) {
    if (key == "cur_sample") cur_sample_ = value;
  }
}

}  // namespace ftdr::torchbe
