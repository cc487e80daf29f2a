// samplers/noise_schedule.hpp: the training noise schedule (betas -> alphas_cumprod -> sigmas) and the
// choice of inference timesteps, kept apart from the samplers that walk it.
//
//   NoiseSchedule schedule(cfg);                       // cfg: a resolved SchedulerConfig
//   float a = schedule.alpha_cumprod(999);
//   auto t = spaced_timesteps(Spacing::linspace, 1000, 20, 0, TimestepKind::fractional);
//
// Everything reproduces diffusers 0.31 in the same precision: betas and alphas_cumprod in float32
// (linspace and cumprod as the reference's torch 1.13 computed them, torch_compat.hpp, on any
// libtorch), timestep arithmetic in float64 numpy style.
// Timesteps are returned in descending order (the order the sampler visits them).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "samplers/scheduler_config.hpp"

namespace ftdr::torchbe {

class NoiseSchedule {
 public:
  explicit NoiseSchedule(const SchedulerConfig& cfg);

  int num_train_timesteps() const { return static_cast<int>(alphas_cumprod_.size()); }
  // alphas_cumprod[t], float32 like diffusers' tensor.
  float alpha_cumprod(int t) const { return alphas_cumprod_.at(static_cast<size_t>(t)); }
  const std::vector<float>& alphas_cumprod() const { return alphas_cumprod_; }
  // sqrt((1 - alphas_cumprod) / alphas_cumprod) per training timestep (ascending t), float32.
  const std::vector<float>& train_sigmas() const { return train_sigmas_; }

 private:
  std::vector<float> alphas_cumprod_;
  std::vector<float> train_sigmas_;
};

// betas as diffusers builds them: linear, scaled_linear, squaredcos_cap_v2 or trained_betas,
// optionally rescaled to zero terminal SNR. float32 [num_train_timesteps].
at::Tensor make_betas(const SchedulerConfig& cfg);

enum class TimestepKind {
  integer,     // DDIM/PNDM: linspace values rounded to integers
  fractional,  // Euler/Euler-a/LMS: linspace values kept, as float32
};

// The inference timesteps of DDIM, PNDM, Euler, Euler-a and LMS for a timestep_spacing
// ("linspace", "leading", "trailing"), descending. steps_offset applies to "leading" only.
std::vector<double> spaced_timesteps(const std::string& spacing, int num_train, int n, int steps_offset,
                                     TimestepKind kind);

// DPMSolverMultistep's variant: spacing over n + 1 points, the last dropped; integer timesteps.
// last_timestep: num_train minus the steps clipped by lambda_min_clipped (num_train by default).
std::vector<double> dpm_spaced_timesteps(const std::string& spacing, int num_train, int last_timestep, int n,
                                         int steps_offset);

// Karras et al. (2022) sigmas (rho 7) between the schedule's extremes, float64, descending.
// Ref: k-diffusion sampling.get_sigmas_karras; diffusers _convert_to_karras
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n);

// The fractional training timestep whose log-sigma matches, interpolated between neighbours, as
// diffusers' _sigma_to_t computes it (float32 distances, float64 blend).
double sigma_to_t(double sigma, const std::vector<float>& log_train_sigmas);

}  // namespace ftdr::torchbe
