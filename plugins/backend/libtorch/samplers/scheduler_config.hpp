// samplers/scheduler_config.hpp: scheduler/scheduler_config.json resolved for one sampler.
//
//   auto cfg = SchedulerConfig::resolve(folder.scheduler_config, SamplerKind::euler);
//   cfg.timestep_spacing;   // "linspace": Euler's default, since the SD 1.5 file does not set it
//
// The defaults rule is diffusers' `Cls.from_config(pipe.scheduler.config)`: every key the sampler's
// class accepts takes the file's value when the file has it, and the NEW class's default when the
// file does not (diffusers tracks those keys in `_use_default_values`). So a PNDM file gives DDIM
// timestep_spacing "leading" and clip_sample from the file, but Euler "linspace". Keys the class does
// not accept are ignored, as diffusers ignores them. A JSON null counts as absent.
//
// Values FTDR does not implement (thresholding, exponential/beta sigmas, continuous timesteps, ...)
// are refused with sdk::Error(model_error) naming the file and key, never silently ignored.
#pragma once
#include <nlohmann/json.hpp>

#include <limits>
#include <string>
#include <vector>

namespace ftdr::torchbe {

// The diffusers scheduler class each FTDR sampler reproduces.
enum class SamplerKind {
  pndm,     // PNDMScheduler (PLMS)
  ddim,     // DDIMScheduler
  euler,    // EulerDiscreteScheduler
  euler_a,  // EulerAncestralDiscreteScheduler
  dpm,      // DPMSolverMultistepScheduler
  lms,      // LMSDiscreteScheduler
};

struct SchedulerConfig {
  SamplerKind kind = SamplerKind::pndm;
  std::string file_class;  // the file's _class_name ("" when absent)

  // Shared by all classes (defaults: diffusers' __init__ defaults).
  int num_train_timesteps = 1000;
  double beta_start = 0.0001;
  double beta_end = 0.02;
  std::string beta_schedule = "linear";      // linear, scaled_linear, squaredcos_cap_v2
  std::vector<double> trained_betas;         // non-empty: used instead of beta_schedule
  std::string prediction_type = "epsilon";   // epsilon, v_prediction, sample
  std::string timestep_spacing = "leading";  // PNDM/DDIM default; "linspace" for the others
  int steps_offset = 0;
  bool rescale_betas_zero_snr = false;  // not a PNDM/LMS option

  // PNDM and DDIM.
  bool set_alpha_to_one = false;  // DDIM's default is true
  // DDIM.
  bool clip_sample = true;
  double clip_sample_range = 1.0;

  // Euler, LMS, DPM.
  bool use_karras_sigmas = false;
  // Euler (karras bounds; null: the schedule's own extremes) and Euler/DPM final sigma.
  double sigma_min = std::numeric_limits<double>::quiet_NaN();
  double sigma_max = std::numeric_limits<double>::quiet_NaN();
  std::string final_sigmas_type = "zero";  // zero or sigma_min

  // DPMSolverMultistep.
  std::string algorithm_type = "dpmsolver++";
  int solver_order = 2;
  std::string solver_type = "midpoint";  // midpoint or heun
  bool lower_order_final = true;
  bool euler_at_final = false;
  double lambda_min_clipped = -std::numeric_limits<double>::infinity();

  // `file` is the parsed scheduler_config.json; `source` names it in error messages.
  static SchedulerConfig resolve(const nlohmann::json& file, SamplerKind kind,
                                 const std::string& source = "scheduler/scheduler_config.json");
};

// At model load: the file resolves for every sampler (each SamplerKind), so a value no sampler can
// use is a model_error naming the file and key when the model loads, not when a job runs.
void check_scheduler_config(const nlohmann::json& file, const std::string& source);

// The FTDR sampler name of the file's own class ("pndm", "ddim", "euler", "euler_a", "dpmpp_2m",
// "dpmpp_2m_karras", "lms"); sdk::Error(model_error) for a class FTDR has no sampler for.
std::string default_sampler_name(const nlohmann::json& scheduler_config);

}  // namespace ftdr::torchbe
