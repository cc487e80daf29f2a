#include "samplers/euler_ancestral_sampler.hpp"

#include <cmath>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

// Ref: diffusers scheduling_euler_ancestral_discrete.py EulerAncestralDiscreteScheduler.step;
// k-diffusion sampling.get_ancestral_step / sample_euler_ancestral.
at::Tensor EulerAncestralSampler::step(const at::Tensor& model_output, int i, const at::Tensor& sample_in,
                                       const at::Tensor& noise) {
  check_index(i);
  if (!noise.defined()) throw sdk::Error(sdk::ErrorKind::internal, "euler_a: step without a noise draw");
  const at::Tensor x = as_float(sample_in);
  const float sigma_from = sigma(i), sigma_to = sigma(i + 1);
  const at::Tensor denoised = predict_x0(as_float(model_output), x, sigma_from);

  const float sigma_up = std::sqrt(sigma_to * sigma_to * (sigma_from * sigma_from - sigma_to * sigma_to) /
                                   (sigma_from * sigma_from));
  const float sigma_down = std::sqrt(sigma_to * sigma_to - sigma_up * sigma_up);

  const at::Tensor d = (x - denoised) / sigma_from;
  const float dt = sigma_down - sigma_from;
  const at::Tensor x_down = x + d * dt;
  return x_down + as_float(noise) * sigma_up;
}

}  // namespace ftdr::torchbe
