// tools/diffusion_math.cpp
#include "diffusion_math.hpp"

#include <cmath>

namespace ftdr::demo {

at::Tensor sd_alphas_cumprod() {
  at::Tensor betas = at::linspace(std::sqrt(0.00085), std::sqrt(0.012), 1000, at::kDouble).pow(2);
  return (1 - betas).cumprod(0).to(at::kFloat);
}

at::Tensor ddim_preview(const PreviewNets& nets, const at::Tensor& ids, const at::Tensor& uncond_ids,
                        at::Generator& gen, int steps, double guidance) {
  at::NoGradGuard no_grad;
  const at::Tensor acp = sd_alphas_cumprod();
  const int64_t b = ids.size(0);
  const at::Tensor cond = nets.text_encoder->forward(at::cat({uncond_ids, ids}));
  at::Tensor x = at::randn({b, 4, 16, 16}, gen, at::kFloat).to(ids.device());
  const double stride = 1000.0 / steps;
  for (int i = 0; i < steps; ++i) {
    const int64_t t = static_cast<int64_t>(std::round(1000.0 - i * stride)) - 1;
    const int64_t t_prev = t - static_cast<int64_t>(std::round(stride));
    const double a_t = acp[t].item<double>();
    const double a_prev = acp[std::max<int64_t>(t_prev, 0)].item<double>();
    const at::Tensor eps2 = nets.unet->forward(at::cat({x, x}), at::full({2 * b}, t, ids.options()), cond);
    const at::Tensor eps_u = eps2.slice(0, 0, b), eps_c = eps2.slice(0, b);
    const at::Tensor eps = eps_u + guidance * (eps_c - eps_u);
    const at::Tensor x0 = (x - std::sqrt(1 - a_t) * eps) / std::sqrt(a_t);
    x = std::sqrt(a_prev) * x0 + std::sqrt(1 - a_prev) * eps;
  }
  return nets.vae->decode(x / nets.scaling_factor);
}

}  // namespace ftdr::demo
