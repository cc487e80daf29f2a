// unet/timesteps.cpp  (Ref: diffusers models/embeddings.py get_timestep_embedding)
#include "unet/timesteps.hpp"

#include <cmath>

namespace ftdr::torchbe {

namespace {
constexpr double kMaxPeriod = 10000.0;
}

TimestepsImpl::TimestepsImpl(int64_t num_channels, bool flip_sin_to_cos, double freq_shift)
    : num_channels_(num_channels), flip_sin_to_cos_(flip_sin_to_cos), freq_shift_(freq_shift) {}

at::Tensor TimestepsImpl::forward(const at::Tensor& timesteps) {
  const int64_t half = num_channels_ / 2;
  auto f32 = timesteps.options().dtype(at::kFloat);
  // Same operation order as diffusers, in float32: exp(-ln(P) * i / (half - shift)).
  at::Tensor exponent = at::arange(0, half, f32) * static_cast<float>(-std::log(kMaxPeriod));
  exponent = exponent / static_cast<float>(half - freq_shift_);
  at::Tensor emb = timesteps.to(at::kFloat).unsqueeze(1) * at::exp(exponent).unsqueeze(0);
  at::Tensor sin = at::sin(emb), cos = at::cos(emb);
  emb = flip_sin_to_cos_ ? at::cat({cos, sin}, -1) : at::cat({sin, cos}, -1);
  if (num_channels_ % 2 == 1) emb = at::constant_pad_nd(emb, {0, 1, 0, 0}, 0);
  return emb;
}

}  // namespace ftdr::torchbe
