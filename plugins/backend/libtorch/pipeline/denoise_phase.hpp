// pipeline/denoise_phase.hpp: the diffusion phase: fresh noise or a checkpoint -> latents artifact,
// reporting every step to the host's StepObserver.
//
// Fresh run: NoiseSource(seed, first_image, batch) draws the initial latents on the CPU (image i
// from seed + i, bit-identical to diffusers' CPU torch.Generator) and they move to the UNet's
// device; the same generators then feed ancestral / eta noise. Resume: the checkpoint's identity
// must match these parameters, then its latents, sampler history and generator states are
// restored and the loop continues at iteration steps_done — the final latents are bit-identical to
// an uninterrupted run on the same device.
// Each StepEvent carries step (iterations done), total, step_ms (wall time; on CUDA without health
// checks it may only cover the kernel launches), finite (isfinite over the latents, when health
// checks are on; true otherwise) and a snapshot LatentsArtifact the host may checkpoint.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "artifacts/conditioning.hpp"
#include "artifacts/latents_artifact.hpp"
#include "ftdr/sdk/backend.hpp"
#include "nn/attention.hpp"
#include "unet/unet_2d_condition_model.hpp"

namespace ftdr::torchbe {

struct DenoiseSetup {
  sdk::GenerationParams params;
  std::string sampler;         // resolved name ("default" already mapped)
  std::string model_identity;  // model_identity.h: recorded in, and checked against, checkpoints
  nlohmann::json scheduler_config;
  int latent_channels = 4;
  int vae_scale_factor = 8;
  bool health_check = true;
  // Called before every iteration with its index: the seam for fault injection. It may throw (an
  // injected OOM); returning true poisons that iteration's output with NaN (an injected numerical
  // fault, which the health check then reports as finite = false).
  std::function<bool(int)> before_step;
};

std::shared_ptr<LatentsArtifact> run_denoise(UNet2DConditionModel& unet,
                                             const ConditioningArtifact& conditioning,
                                             const LatentsArtifact* resume, const DenoiseSetup& setup,
                                             sdk::StepObserver& observer);

}  // namespace ftdr::torchbe
