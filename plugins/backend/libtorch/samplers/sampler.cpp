#include "samplers/sampler.hpp"

#include "ftdr/sdk/error.hpp"
#include "samplers/ddim_sampler.hpp"
#include "samplers/dpmpp_2m_sampler.hpp"
#include "samplers/euler_ancestral_sampler.hpp"
#include "samplers/euler_sampler.hpp"
#include "samplers/lms_sampler.hpp"
#include "samplers/pndm_sampler.hpp"

namespace ftdr::torchbe {

using sdk::Error;
using sdk::ErrorKind;

void Sampler::check_index(int i) const {
  if (timesteps().empty()) throw Error(ErrorKind::internal, "sampler: step() before set_timesteps()");
  if (i < 0 || i >= num_steps()) {
    throw Error(ErrorKind::internal, "sampler: step index " + std::to_string(i) + " outside 0.." +
                                         std::to_string(num_steps() - 1));
  }
}

void Sampler::check_step_count(int n) const {
  if (n < 1 || n > cfg_.num_train_timesteps) {
    throw Error(ErrorKind::invalid_request, "steps: expected 1.." + std::to_string(cfg_.num_train_timesteps) +
                                                ", got " + std::to_string(n));
  }
}

void Sampler::check_timesteps_in_range(int n) const {
  for (double t : timesteps_) {
    if (t < 0 || t >= cfg_.num_train_timesteps) {
      throw Error(ErrorKind::invalid_request,
                  "steps: " + std::to_string(n) + " steps with timestep_spacing '" + cfg_.timestep_spacing +
                      "' and steps_offset " + std::to_string(cfg_.steps_offset) + " reach timestep " +
                      std::to_string(static_cast<long>(t)) + ", outside the model's 0.." +
                      std::to_string(cfg_.num_train_timesteps - 1) + "; use fewer steps");
    }
  }
}

const at::Tensor& Sampler::state_entry(const SamplerState& state, const std::string& name) {
  for (const auto& [key, value] : state) {
    if (key == name) return value;
  }
  throw Error(ErrorKind::internal, "sampler state: entry '" + name + "' missing");
}

std::vector<std::string> sampler_names() {
  return {"pndm", "ddim", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "lms"};
}

std::unique_ptr<Sampler> make_sampler(const std::string& requested, const nlohmann::json& scheduler_config,
                                      double eta) {
  const std::string name = requested == "default" ? default_sampler_name(scheduler_config) : requested;
  if (name == "pndm")
    return std::make_unique<PNDMSampler>(SchedulerConfig::resolve(scheduler_config, SamplerKind::pndm));
  if (name == "ddim") {
    return std::make_unique<DDIMSampler>(SchedulerConfig::resolve(scheduler_config, SamplerKind::ddim), eta);
  }
  if (name == "euler")
    return std::make_unique<EulerSampler>(SchedulerConfig::resolve(scheduler_config, SamplerKind::euler));
  if (name == "euler_a") {
    return std::make_unique<EulerAncestralSampler>(
        SchedulerConfig::resolve(scheduler_config, SamplerKind::euler_a));
  }
  if (name == "lms")
    return std::make_unique<LMSSampler>(SchedulerConfig::resolve(scheduler_config, SamplerKind::lms));
  if (name == "dpmpp_2m" || name == "dpmpp_2m_karras") {
    SchedulerConfig cfg = SchedulerConfig::resolve(scheduler_config, SamplerKind::dpm);
    // The overrides the reference pipelines pass to DPMSolverMultistepScheduler.from_config; the
    // name, not the file, decides Karras sigmas.
    cfg.algorithm_type = "dpmsolver++";
    cfg.solver_order = 2;
    cfg.use_karras_sigmas = name == "dpmpp_2m_karras";
    return std::make_unique<DPMPP2MSampler>(cfg);
  }
  std::string list = "default";
  for (const auto& n : sampler_names()) list += ", " + n;
  throw Error(ErrorKind::invalid_request,
              "sampler: unknown name '" + requested + "'; expected one of " + list);
}

}  // namespace ftdr::torchbe
