// samplers/sampler.hpp: one denoising sampler (diffusers calls them schedulers), driven step by step.
//
//   auto sampler = make_sampler("euler_a", folder.scheduler_config);
//   sampler->set_timesteps(20);
//   latents = latents * sampler->init_noise_sigma();
//   for (int i = 0; i < static_cast<int>(sampler->timesteps().size()); ++i) {
//     at::Tensor x = sampler->scale_model_input(latents, i);
//     at::Tensor eps = unet->forward(x, at::scalar_tensor(sampler->timesteps()[i]), text);
//     at::Tensor noise = sampler->needs_noise(i) ? draw_noise() : at::Tensor();
//     latents = sampler->step(eps, i, latents, noise);
//   }
//
// Each sampler reproduces one diffusers 0.31 scheduler (timesteps, sigmas and step arithmetic, in
// float32 like diffusers), resolved from scheduler_config.json with SchedulerConfig's defaults rule.
// Names: "default" (the file's own class), pndm (PLMS), ddim, euler, euler_a, dpmpp_2m,
// dpmpp_2m_karras, lms. Latents are float32; model outputs of another dtype are cast to float32.
//
// Multistep samplers (PNDM, DPM++ 2M, LMS) keep history between steps. state()/load_state() save and
// restore all of it, so a run stopped after step k resumes bit-identically in a fresh sampler after
// set_timesteps(n) and load_state(). Steps must be taken in order i = 0, 1, ... (or from the step a
// loaded state ends at); anything else is sdk::Error(internal). Not thread-safe: one run per object.
#pragma once
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "samplers/noise_schedule.hpp"
#include "samplers/scheduler_config.hpp"

namespace ftdr::torchbe {

using SamplerState = std::vector<std::pair<std::string, at::Tensor>>;

class Sampler {
 public:
  virtual ~Sampler() = default;

  // Required before anything else: plans n denoising steps (n >= 1; PNDM runs n + 1 iterations).
  virtual void set_timesteps(int n) = 0;
  // What the UNet gets at each iteration; its size is the number of iterations.
  virtual const std::vector<double>& timesteps() const { return timesteps_; }
  // k-diffusion style samplers: sigma per iteration plus the final one (size + 1); empty otherwise.
  virtual const std::vector<double>& sigmas() const { return sigmas_; }
  // Multiplies fresh noise before step 0.
  virtual double init_noise_sigma() const { return 1.0; }
  // The UNet input at iteration i (k-samplers divide by sqrt(sigma^2 + 1)).
  virtual at::Tensor scale_model_input(const at::Tensor& x, int i) const {
    (void)i;
    return x;
  }
  // One step i: model_output (guided eps / v / x0) -> previous sample. noise: the draw for ancestral
  // and eta > 0 steps, shaped like sample (undefined when needs_noise(i) is false).
  virtual at::Tensor step(const at::Tensor& model_output, int i, const at::Tensor& sample,
                          const at::Tensor& noise) = 0;
  // Whether step i consumes a noise draw (diffusers draws at every step of these samplers).
  virtual bool needs_noise(int i) const {
    (void)i;
    return false;
  }

  // Every tensor and counter the sampler keeps between steps (CPU or device tensors, as held).
  virtual SamplerState state() const = 0;
  // Restores state() output after set_timesteps(); sdk::Error(internal) when names are missing.
  virtual void load_state(const SamplerState& state) = 0;

  const SchedulerConfig& config() const { return cfg_; }
  const NoiseSchedule& schedule() const { return schedule_; }
  int num_steps() const { return static_cast<int>(timesteps().size()); }

 protected:
  explicit Sampler(SchedulerConfig cfg) : cfg_(std::move(cfg)), schedule_(cfg_) {}

  // sdk::Error(internal) unless set_timesteps ran and 0 <= i < num_steps().
  void check_index(int i) const;
  // sdk::Error(invalid_request) for n < 1 or n > num_train_timesteps.
  void check_step_count(int n) const;
  // sdk::Error(invalid_request) when a timestep lies past the training schedule (e.g. 1000 steps with
  // "leading" spacing and steps_offset 1, where diffusers would index out of bounds).
  void check_timesteps_in_range(int n) const;
  // The named entry of a saved state; sdk::Error(internal) when absent.
  static const at::Tensor& state_entry(const SamplerState& state, const std::string& name);
  static at::Tensor counter_tensor(int64_t value) { return at::scalar_tensor(value, at::kLong); }

  SchedulerConfig cfg_;
  NoiseSchedule schedule_;
  std::vector<double> timesteps_;
  std::vector<double> sigmas_;
};

// name: "default" or one of sampler_names(); unknown -> sdk::Error(invalid_request) listing them.
// eta: DDIM's eta (0 = deterministic); ignored by the other samplers.
std::unique_ptr<Sampler> make_sampler(const std::string& name, const nlohmann::json& scheduler_config,
                                      double eta = 0);

// The names make_sampler accepts besides "default".
std::vector<std::string> sampler_names();

// model_output and sample as float32 (diffusers upcasts the sample before stepping).
inline at::Tensor as_float(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat);
}

}  // namespace ftdr::torchbe
