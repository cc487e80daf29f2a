#include "samplers/euler_sampler.hpp"

namespace ftdr::torchbe {

// Ref: diffusers scheduling_euler_discrete.py EulerDiscreteScheduler.step (s_churn = 0, so
// sigma_hat = sigma); k-diffusion sampling.sample_euler.
at::Tensor EulerSampler::step(const at::Tensor& model_output, int i, const at::Tensor& sample_in,
                              const at::Tensor& /*noise*/) {
  check_index(i);
  const at::Tensor x = as_float(sample_in);
  const float sigma = this->sigma(i), sigma_next = this->sigma(i + 1);
  const at::Tensor denoised = predict_x0(as_float(model_output), x, sigma);
  const at::Tensor d = (x - denoised) / sigma;  // the ODE derivative dx/dsigma
  const float dt = sigma_next - sigma;
  return x + d * dt;
}

}  // namespace ftdr::torchbe
