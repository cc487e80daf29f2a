#include "samplers/lms_sampler.hpp"

#include <algorithm>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

void LMSSampler::set_timesteps(int n) {
  KSampler::set_timesteps(n);
  derivatives_.clear();
  steps_done_ = 0;
}

// Ref: diffusers scheduling_lms_discrete.py get_lms_coefficient; k-diffusion linear_multistep_coeff.
double LMSSampler::lms_coefficient(int order, int i, int current) const {
  auto s = [this](int k) { return sigmas_.at(static_cast<size_t>(k)); };
  auto basis = [&](double tau) {
    double prod = 1.0;
    for (int k = 0; k < order; ++k) {
      if (k == current) continue;
      prod *= (tau - s(i - k)) / (s(i - current) - s(i - k));
    }
    return prod;
  };
  // 4-point Gauss-Legendre on [a, b]: exact for polynomials up to degree 7.
  static const double nodes[4] = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563,
                                  0.8611363115940526};
  static const double weights[4] = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461,
                                    0.3478548451374538};
  const double a = s(i), b = s(i + 1);
  const double half = (b - a) / 2, mid = (a + b) / 2;
  double sum = 0;
  for (int q = 0; q < 4; ++q) sum += weights[q] * basis(mid + half * nodes[q]);
  return sum * half;
}

// Ref: diffusers scheduling_lms_discrete.py LMSDiscreteScheduler.step; k-diffusion sample_lms.
at::Tensor LMSSampler::step(const at::Tensor& model_output, int i, const at::Tensor& sample_in,
                            const at::Tensor& /*noise*/) {
  check_index(i);
  if (i != steps_done_) {
    throw sdk::Error(sdk::ErrorKind::internal, "lms: step " + std::to_string(i) + " after " +
                                                   std::to_string(steps_done_) + " steps (load_state first)");
  }
  const at::Tensor x = as_float(sample_in);
  const float s = sigma(i);
  const at::Tensor denoised = predict_x0(as_float(model_output), x, s);
  derivatives_.push_back((x - denoised) / s);
  if (static_cast<int>(derivatives_.size()) > kOrder) derivatives_.pop_front();

  const int order = std::min(i + 1, kOrder);
  at::Tensor update;
  for (int j = 0; j < order; ++j) {  // j steps back: newest derivative first
    const at::Tensor term = lms_coefficient(order, i, j) * derivatives_[derivatives_.size() - 1 - j];
    update = update.defined() ? update + term : term;
  }
  ++steps_done_;
  return x + update;
}

SamplerState LMSSampler::state() const {
  SamplerState st{{"steps_done", counter_tensor(steps_done_)},
                  {"derivatives", counter_tensor(static_cast<int64_t>(derivatives_.size()))}};
  for (size_t k = 0; k < derivatives_.size(); ++k)
    st.emplace_back("derivative." + std::to_string(k), derivatives_[k]);
  return st;
}

void LMSSampler::load_state(const SamplerState& st) {
  steps_done_ = static_cast<int>(state_entry(st, "steps_done").item<int64_t>());
  const auto count = state_entry(st, "derivatives").item<int64_t>();
  derivatives_.clear();
  for (int64_t k = 0; k < count; ++k)
    derivatives_.push_back(state_entry(st, "derivative." + std::to_string(k)));
}

}  // namespace ftdr::torchbe
