// samplers/torch_compat.hpp: the two torch float32 routines diffusers builds its training schedule
// from (betas = torch.linspace(...), alphas_cumprod = torch.cumprod(1 - betas)), reproduced value for
// value as the reference's torch computed them, so alphas_cumprod is bit-identical to diffusers'
// whichever libtorch FTDR runs on.
//
//   auto b = torch_linspace(std::sqrt(0.00085), std::sqrt(0.012), 1000);  // SD's scaled_linear
//   auto acp = torch_cumprod(alphas);
//
// Why not at::linspace: torch's CPU linspace depends on the torch version and on the CPU's vector
// width (AVX2, AVX-512 or none), and a one-ulp change in one beta moves every later alphas_cumprod.
// libtorch 2.7.1 on an AVX2 machine differs from 1.13.1 in 233 of SD's 1000 betas, which leaves
// 678 of the 1000 alphas_cumprod one ulp off. The reference (diffusers 0.31) ran on torch 1.13.1 with
// its AVX2 kernels, so that kernel is the one reproduced here.
#pragma once
#include <vector>

namespace ftdr::torchbe {

// torch.linspace(start, end, steps, dtype=torch.float32) as torch 1.13.1's AVX2 CPU kernel computes
// it (checked against it on 107,709 values, random ranges and steps 1..5000): float32 step
// (end - start) / (steps - 1); value i is start + step * i below steps / 2 and end - step *
// (steps - 1 - i) from there on, each one fused multiply-add (the compiler fused them in the AVX2
// kernel). Up to the last multiple of 16 values, though, values come in runs of 8 (one AVX2 vector)
// where only the first is that formula and the others are it + k * step, rounded twice.
// Exact for steps <= 32768 (one parallel chunk), i.e. any real num_train_timesteps.
std::vector<float> torch_linspace(double start, double end, int steps);

// torch.cumprod(x, 0) for float32 on the CPU: a float64 running product, each value rounded to
// float32 (1.13 and 2.x alike; written out so that no libtorch version can change it).
std::vector<float> torch_cumprod(const std::vector<float>& x);

}  // namespace ftdr::torchbe
