#include "samplers/noise_schedule.hpp"

#include <algorithm>
#include <cmath>

#include "ftdr/sdk/error.hpp"
#include "samplers/numpy_compat.hpp"
#include "samplers/torch_compat.hpp"

namespace ftdr::torchbe {
namespace {

at::Tensor to_tensor(const std::vector<float>& v) { return at::tensor(v, at::kFloat); }

std::vector<float> to_vector(const at::Tensor& t) {
  auto c = t.to(at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Ref: diffusers betas_for_alpha_bar (the "Glide cosine" schedule), float64 then float32.
at::Tensor cosine_betas(int n) {
  auto alpha_bar = [](double t) {
    const double c = std::cos((t + 0.008) / 1.008 * M_PI / 2);
    return c * c;
  };
  std::vector<float> betas(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const double t1 = static_cast<double>(i) / n, t2 = static_cast<double>(i + 1) / n;
    betas[static_cast<size_t>(i)] = static_cast<float>(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999));
  }
  return at::tensor(betas, at::kFloat);
}

// Ref: diffusers rescale_zero_terminal_snr (Lin et al. 2023, arXiv:2305.08891, Algorithm 1).
at::Tensor rescale_zero_terminal_snr(const at::Tensor& betas) {
  auto alphas_bar_sqrt = to_tensor(torch_cumprod(to_vector(1.0 - betas))).sqrt();
  const auto first = alphas_bar_sqrt[0].clone();
  const auto last = alphas_bar_sqrt[-1].clone();
  alphas_bar_sqrt = (alphas_bar_sqrt - last) * (first / (first - last));
  const auto alphas_bar = alphas_bar_sqrt.pow(2);
  auto alphas = at::cat({alphas_bar.slice(0, 0, 1), alphas_bar.slice(0, 1) / alphas_bar.slice(0, 0, -1)});
  return 1 - alphas;
}

}  // namespace

at::Tensor make_betas(const SchedulerConfig& cfg) {
  const int n = cfg.num_train_timesteps;
  at::Tensor betas;
  if (!cfg.trained_betas.empty()) {
    betas = at::tensor(cfg.trained_betas, at::kDouble).to(at::kFloat);
  } else if (cfg.beta_schedule == "linear") {
    betas = to_tensor(torch_linspace(cfg.beta_start, cfg.beta_end, n));
  } else if (cfg.beta_schedule == "scaled_linear") {
    // Latent diffusion's schedule: linear in sqrt(beta).
    betas = to_tensor(torch_linspace(std::pow(cfg.beta_start, 0.5), std::pow(cfg.beta_end, 0.5), n)).pow(2);
  } else {
    betas = cosine_betas(n);
  }
  if (cfg.rescale_betas_zero_snr) betas = rescale_zero_terminal_snr(betas);
  return betas;
}

NoiseSchedule::NoiseSchedule(const SchedulerConfig& cfg) {
  const at::Tensor alphas = 1.0 - make_betas(cfg);
  at::Tensor alphas_cumprod = to_tensor(torch_cumprod(to_vector(alphas)));
  const bool sigma_based =
      cfg.kind == SamplerKind::euler || cfg.kind == SamplerKind::euler_a || cfg.kind == SamplerKind::dpm;
  if (cfg.rescale_betas_zero_snr && sigma_based) {
    // diffusers: close to 0 without being 0, so the first sigma is finite.
    alphas_cumprod[-1] = std::pow(2.0, -24);
  }
  alphas_cumprod_ = to_vector(alphas_cumprod);
  train_sigmas_ = to_vector(((1 - alphas_cumprod) / alphas_cumprod).pow(0.5));
}

std::vector<double> spaced_timesteps(const std::string& spacing, int num_train, int n, int steps_offset,
                                     TimestepKind kind) {
  std::vector<double> t;
  if (spacing == "linspace") {
    t = np_linspace(0, num_train - 1, n);
    for (double& v : t) v = kind == TimestepKind::integer ? np_round(v) : static_cast<float>(v);
    std::reverse(t.begin(), t.end());
  } else if (spacing == "leading") {
    const int ratio = num_train / n;  // integer ratio, as diffusers' `//`
    for (int i = n - 1; i >= 0; --i) t.push_back(static_cast<double>(i) * ratio + steps_offset);
  } else if (spacing == "trailing") {
    const double ratio = static_cast<double>(num_train) / n;
    for (double v : np_arange(num_train, 0, -ratio)) t.push_back(np_round(v) - 1);
  } else {
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "timestep_spacing: expected linspace, leading or trailing, got '" + spacing + "'");
  }
  return t;
}

std::vector<double> dpm_spaced_timesteps(const std::string& spacing, int num_train, int last_timestep, int n,
                                         int steps_offset) {
  std::vector<double> t;
  if (spacing == "linspace") {
    auto v = np_linspace(0, last_timestep - 1, n + 1);
    for (int i = n; i >= 1; --i) t.push_back(np_round(v[static_cast<size_t>(i)]));
  } else if (spacing == "leading") {
    const int ratio = last_timestep / (n + 1);
    for (int i = n; i >= 1; --i) t.push_back(static_cast<double>(i) * ratio + steps_offset);
  } else if (spacing == "trailing") {
    const double ratio = static_cast<double>(num_train) / n;  // diffusers: num_train, not last

    for (double v : np_arange(last_timestep, 0, -ratio)) t.push_back(np_round(v) - 1);
  } else {
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "timestep_spacing: expected linspace, leading or trailing, got '" + spacing + "'");
  }
  return t;
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n) {
  const double rho = 7.0;  // the paper's value
  const double min_inv_rho = std::pow(sigma_min, 1 / rho);
  const double max_inv_rho = std::pow(sigma_max, 1 / rho);
  std::vector<double> sigmas;
  for (double ramp : np_linspace(0, 1, n))
    sigmas.push_back(std::pow(max_inv_rho + ramp * (min_inv_rho - max_inv_rho), rho));
  return sigmas;
}

double sigma_to_t(double sigma, const std::vector<float>& log_sigmas) {
  // numpy 1.x value-based casting: the float64 scalar meets a float32 array, so distances and the
  // weight are float32; the blend with the integer indices is float64.
  const float log_sigma = static_cast<float>(std::log(std::max(sigma, 1e-10)));
  const auto count = static_cast<long>(log_sigmas.size());
  long low = 0;  // the last index whose log-sigma is <= log_sigma (cumsum(dists >= 0).argmax())
  long last_hit = -1, best = 0, running = 0;
  for (long i = 0; i < count; ++i) {
    if (log_sigma - log_sigmas[static_cast<size_t>(i)] >= 0) ++running;
    if (running > best) {
      best = running;
      last_hit = i;
    }
  }
  low = last_hit < 0 ? 0 : last_hit;
  low = std::min(low, count - 2);
  const long high = low + 1;
  const float lo = log_sigmas[static_cast<size_t>(low)], hi = log_sigmas[static_cast<size_t>(high)];
  float w = (lo - log_sigma) / (lo - hi);
  w = std::clamp(w, 0.0f, 1.0f);
  return static_cast<double>(1 - w) * static_cast<double>(low) +
         static_cast<double>(w) * static_cast<double>(high);
}

}  // namespace ftdr::torchbe
