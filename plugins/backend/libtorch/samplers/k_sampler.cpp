#include "samplers/k_sampler.hpp"

#include <algorithm>
#include <cmath>

#include "samplers/numpy_compat.hpp"

namespace ftdr::torchbe {

void KSampler::set_timesteps(int n) {
  check_step_count(n);
  const int num_train = cfg_.num_train_timesteps;
  std::vector<double> t =
      spaced_timesteps(cfg_.timestep_spacing, num_train, n, cfg_.steps_offset, TimestepKind::fractional);
  const std::vector<float>& train = schedule_.train_sigmas();
  std::vector<double> s;
  for (double ti : t) s.push_back(np_interp(ti, train));
  if (cfg_.use_karras_sigmas) {
    std::vector<float> log_sigmas;
    for (float v : train) log_sigmas.push_back(std::log(v));
    const double lo = std::isnan(cfg_.sigma_min) ? s.back() : cfg_.sigma_min;
    const double hi = std::isnan(cfg_.sigma_max) ? s.front() : cfg_.sigma_max;
    s = karras_sigmas(lo, hi, n);
    t.clear();
    for (double si : s) t.push_back(sigma_to_t(si, log_sigmas));
  }
  const double last = cfg_.final_sigmas_type == "sigma_min" ? train.front() : 0.0;
  s.push_back(last);
  // Both are float32 tensors in diffusers.
  timesteps_.clear();
  sigmas_.clear();
  for (double ti : t) timesteps_.push_back(static_cast<float>(ti));
  for (double si : s) sigmas_.push_back(static_cast<float>(si));
}

double KSampler::init_noise_sigma() const {
  const float max_sigma = static_cast<float>(*std::max_element(sigmas_.begin(), sigmas_.end()));
  if (cfg_.timestep_spacing == "linspace" || cfg_.timestep_spacing == "trailing") return max_sigma;
  return std::sqrt(max_sigma * max_sigma + 1.0f);
}

at::Tensor KSampler::scale_model_input(const at::Tensor& x, int i) const {
  check_index(i);
  const float s = sigma(i);
  return x / std::sqrt(s * s + 1.0f);
}

at::Tensor KSampler::predict_x0(const at::Tensor& model_output, const at::Tensor& sample, float s) const {
  if (cfg_.prediction_type == "epsilon") return sample - s * model_output;
  if (cfg_.prediction_type == "v_prediction") {
    // denoised = model_output * c_out + input * c_skip
    const float c_out = -s / std::sqrt(s * s + 1.0f);
    return model_output * c_out + sample / (s * s + 1.0f);
  }
  return model_output;  // "sample": the model predicts x0 directly
}

}  // namespace ftdr::torchbe
