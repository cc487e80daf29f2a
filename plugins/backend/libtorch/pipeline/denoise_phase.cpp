// backend/denoise_phase.cpp: see denoise_phase.h.
#include "pipeline/denoise_phase.hpp"

#include <chrono>
#include <limits>
#include <string>

#include "ftdr/sdk/error.hpp"
#include "pipeline/denoise_loop.hpp"
#include "pipeline/guidance.hpp"
#include "pipeline/seeds.hpp"
#include "samplers/sampler.hpp"

namespace ftdr::torchbe {
namespace {

using Clock = std::chrono::steady_clock;

// Copies (clones) every tensor, moving those with data to `device`; 0-d counters stay where they are.
template <class Named>
Named snapshot(const Named& named, const at::Device& device) {
  Named out;
  for (const auto& [name, t] : named) out.emplace_back(name, t.dim() > 0 ? t.to(device).clone() : t.clone());
  return out;
}

at::Tensor conditioning_on(const at::Tensor& t, const at::Device& device, at::ScalarType dtype) {
  return t.defined() ? t.to(device, dtype) : t;
}

std::string shape_text(const at::Tensor& t) {
  std::string out = "[";
  for (int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
  return out + "]";
}

void check_conditioning(const ConditioningArtifact& c, const sdk::GenerationParams& params, bool sdxl) {
  if (uses_guidance(params.request.cfg_scale) && !c.uncond.defined()) {
    throw sdk::Error(
        sdk::ErrorKind::invalid_request,
        "cfg_scale: the conditioning was encoded without guidance (cfg_scale <= 1) but this attempt "
        "has cfg_scale " +
            std::to_string(params.request.cfg_scale) + "; encode again");
  }
  if (sdxl != c.cond_pooled.defined() ||
      (sdxl && uses_guidance(params.request.cfg_scale) && !c.uncond_pooled.defined()))
    throw sdk::Error(
        sdk::ErrorKind::invalid_request,
        std::string("conditioning: ") +
            (sdxl ? "this SDXL model needs the pooled text embeddings, which the conditioning lacks"
                  : "pooled text embeddings (SDXL) for a model that has no use for them") +
            "; encode again");
  // Both go through the UNet as one batch; encode_prompts pads them alike, a foreign file may not.
  if (uses_guidance(params.request.cfg_scale) && c.uncond.sizes() != c.cond.sizes()) {
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "conditioning: prompt embeddings " + shape_text(c.cond) +
                         " and negative prompt embeddings " + shape_text(c.uncond) +
                         " differ in shape; encode again");
  }
}

struct StepReporter {
  const DenoiseSetup& setup;
  Sampler& sampler;
  NoiseSource& noise;
  sdk::StepObserver& observer;
  int total;
  Clock::time_point last = Clock::now();

  void operator()(int done, const at::Tensor& latents) {
    auto artifact = std::make_shared<LatentsArtifact>();
    artifact->latents = latents.clone();
    artifact->sampler_state = snapshot(sampler.state(), latents.device());
    artifact->noise_state = noise.state();
    artifact->done = done;
    artifact->total = total;
    artifact->identity = LatentsIdentity::of(setup.params, setup.sampler, setup.model_identity);
    sdk::StepEvent event;
    event.step = done;
    event.total = total;
    event.finite = setup.health_check ? at::isfinite(latents).all().item<bool>() : true;
    const auto now = Clock::now();
    event.step_ms = std::chrono::duration<double, std::milli>(now - last).count();
    event.latents = artifact.get();
    observer.on_step(event);
    last = Clock::now();  // the observer's own time (e.g. writing a checkpoint) is not the step's
    latest = std::move(artifact);
  }

  std::shared_ptr<LatentsArtifact> latest;
};

}  // namespace

std::shared_ptr<LatentsArtifact> run_denoise(UNet2DConditionModel& unet,
                                             const ConditioningArtifact& conditioning,
                                             const LatentsArtifact* resume, const DenoiseSetup& setup,
                                             sdk::StepObserver& observer) {
  const auto& p = setup.params;
  check_conditioning(conditioning, p, unet->config().has_text_time());
  const at::Tensor weight = unet->parameters().front();
  const at::Device device = weight.device();
  auto sampler = make_sampler(setup.sampler, setup.scheduler_config, p.request.eta);
  sampler->set_timesteps(p.request.steps);
  NoiseSource noise(p.request.seed, p.first_image, p.batch);
  at::Tensor latents;
  int start = 0;
  if (resume != nullptr) {
    resume->identity.check_matches(LatentsIdentity::of(p, setup.sampler, setup.model_identity));
    latents = resume->latents.to(device).clone();
    sampler->load_state(snapshot(resume->sampler_state, device));
    noise.load_state(resume->noise_state);
    start = resume->done;
  } else {
    const int f = setup.vae_scale_factor;
    latents = noise.draw({p.batch, setup.latent_channels, p.height / f, p.width / f}).to(device);
  }
  StepReporter reporter{setup, *sampler, noise, observer, sampler->num_steps(), Clock::now(), nullptr};
  const at::Tensor cond = conditioning_on(conditioning.cond, device, weight.scalar_type());
  const at::Tensor uncond = conditioning_on(conditioning.uncond, device, weight.scalar_type());
  PooledConditioning pooled;
  if (conditioning.cond_pooled.defined()) {
    pooled.cond = conditioning_on(conditioning.cond_pooled, device, weight.scalar_type());
    pooled.uncond = conditioning_on(conditioning.uncond_pooled, device, weight.scalar_type());
    pooled.time_ids = sdxl_time_ids(p.height, p.width);
  }
  bool poison = false;
  auto before = [&](int i) { poison = setup.before_step && i < reporter.total && setup.before_step(i); };
  auto on_step = [&](int done, const at::Tensor& x) {
    if (poison) x.fill_(std::numeric_limits<float>::quiet_NaN());
    reporter(done, x);
    before(done);
  };
  before(start);
  at::Tensor final_latents =
      denoise(unet, *sampler, cond, uncond, latents, p.request.cfg_scale, start, noise, on_step, pooled);
  if (reporter.latest) return reporter.latest;
  // Resumed at the very end: nothing ran, the checkpoint is the result.
  auto out = std::make_shared<LatentsArtifact>(*resume);
  out->latents = final_latents;
  return out;
}

}  // namespace ftdr::torchbe
