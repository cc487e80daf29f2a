// artifacts/latents_artifact.hpp: the "latents" artifact: everything needed to continue a denoising
// run exactly where it stopped.
//
// Holds the latents after steps_done iterations, the sampler's multistep history (state()), the
// per-image noise generators' states, and the run's identity: seed, first_image, batch, size,
// sampler, step count, eta, a digest of everything else that determines the latents (prompt,
// negative prompt, cfg_scale, clip_skip) and the model's identity (model_identity.h). Resuming
// checks the identity against the new attempt's parameters, and decoding checks it for artifacts
// read back from a file, so a checkpoint is never continued or decoded for another request or model
// (sdk::Error(invalid_request) naming the field; the engine then runs the sub-batch afresh).
// All tensors are snapshots (cloned): later steps never change an artifact already handed out.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "ftdr/sdk/artifact.hpp"
#include "ftdr/sdk/types.hpp"
#include "samplers/sampler.hpp"

namespace ftdr::torchbe {

using NoiseState = std::vector<std::pair<std::string, at::Tensor>>;

// What a latents artifact must agree with to be resumed.
struct LatentsIdentity {
  std::uint64_t seed = 0;
  int first_image = 0;
  int batch = 1;
  int width = 0, height = 0;
  int steps = 0;        // requested steps (set_timesteps(steps))
  std::string sampler;  // resolved sampler name ("default" already mapped)
  double eta = 0;
  std::string request_digest;  // digest_hex of all the fields above plus prompt, negative prompt,
                               // cfg_scale and clip_skip
  std::string model;           // model_identity() of the backend that made it

  static LatentsIdentity of(const sdk::GenerationParams& params, const std::string& resolved_sampler,
                            const std::string& model_identity);
  // Throws sdk::Error(invalid_request) naming the first field that differs.
  void check_matches(const LatentsIdentity& expected) const;
};

class LatentsArtifact final : public sdk::Artifact {
 public:
  static constexpr const char* kKind = "latents";

  at::Tensor latents;          // [batch, C, h, w] float32
  SamplerState sampler_state;  // Sampler::state() after steps_done iterations
  NoiseState noise_state;      // NoiseSource::state(): one CPU generator (uint8) per image
  int done = 0;                // iterations applied (PNDM runs steps + 1)
  int total = 0;               // iterations of the whole run
  LatentsIdentity identity;
  bool from_file = false;  // read back by load_artifact (not saved): decode checks
                           // its identity before use

  std::string kind() const override { return kKind; }
  std::uint64_t bytes() const override;
  int steps_done() const override { return done; }
};

}  // namespace ftdr::torchbe
