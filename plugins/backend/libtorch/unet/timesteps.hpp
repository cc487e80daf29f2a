// unet/timesteps.hpp: diffusers' Timesteps: sinusoidal timestep embedding (get_timestep_embedding).
//
// emb[i] = t * exp(-ln(10000) * i / (half - freq_shift)), output [sin, cos] or [cos, sin] when
// flip_sin_to_cos (SD). Timesteps may be integer or fractional; computed in float32.
#pragma once
#include <torch/nn.h>

namespace ftdr::torchbe {

class TimestepsImpl : public torch::nn::Module {
 public:
  TimestepsImpl(int64_t num_channels, bool flip_sin_to_cos, double freq_shift);
  // timesteps: [B] -> [B, num_channels] float32.
  at::Tensor forward(const at::Tensor& timesteps);

 private:
  int64_t num_channels_;
  bool flip_sin_to_cos_;
  double freq_shift_;
};
TORCH_MODULE(Timesteps);

}  // namespace ftdr::torchbe
