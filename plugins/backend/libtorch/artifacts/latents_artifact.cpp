// backend/latents_artifact.cpp: see latents_artifact.h.
#include "artifacts/latents_artifact.hpp"

#include <nlohmann/json.hpp>

#include "artifacts/conditioning.hpp"
#include "artifacts/model_identity.hpp"
#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

namespace {

// Everything in the request that determines the latents of this sub-batch, as canonical JSON.
std::string determining_fields(const LatentsIdentity& id, const sdk::GenerationRequest& r) {
  const nlohmann::json j{{"seed", id.seed},          {"first_image", id.first_image},
                         {"batch", id.batch},        {"width", id.width},
                         {"height", id.height},      {"steps", id.steps},
                         {"sampler", id.sampler},    {"eta", id.eta},
                         {"prompt", r.prompt},       {"negative_prompt", r.negative_prompt},
                         {"cfg_scale", r.cfg_scale}, {"clip_skip", r.clip_skip}};
  // Invalid UTF-8 in a prompt must not make the digest throw: replace it (the digest stays distinct
  // enough; validation refuses such prompts elsewhere).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

LatentsIdentity LatentsIdentity::of(const sdk::GenerationParams& params, const std::string& resolved_sampler,
                                    const std::string& model_identity) {
  LatentsIdentity id;
  id.seed = params.request.seed;
  id.first_image = params.first_image;
  id.batch = params.batch;
  id.width = params.width;
  id.height = params.height;
  id.steps = params.request.steps;
  id.sampler = resolved_sampler;
  id.eta = params.request.eta;
  id.request_digest = digest_hex(determining_fields(id, params.request));
  id.model = model_identity;
  return id;
}

void LatentsIdentity::check_matches(const LatentsIdentity& expected) const {
  auto mismatch = [](const std::string& field, const std::string& saved, const std::string& wanted) {
    throw sdk::Error(sdk::ErrorKind::invalid_request, "latents checkpoint refused: it was made with " +
                                                          field + " = " + saved + ", this attempt has " +
                                                          field + " = " + wanted);
  };
  if (seed != expected.seed) mismatch("seed", std::to_string(seed), std::to_string(expected.seed));
  if (first_image != expected.first_image)
    mismatch("first_image", std::to_string(first_image), std::to_string(expected.first_image));
  if (batch != expected.batch) mismatch("batch", std::to_string(batch), std::to_string(expected.batch));
  if (width != expected.width) mismatch("width", std::to_string(width), std::to_string(expected.width));
  if (height != expected.height) mismatch("height", std::to_string(height), std::to_string(expected.height));
  if (steps != expected.steps) mismatch("steps", std::to_string(steps), std::to_string(expected.steps));
  if (sampler != expected.sampler) mismatch("sampler", sampler, expected.sampler);
  if (eta != expected.eta) mismatch("eta", std::to_string(eta), std::to_string(expected.eta));
  if (request_digest != expected.request_digest)
    mismatch("the request digest (prompt, negative_prompt, cfg_scale, clip_skip)", request_digest,
             expected.request_digest);
  if (model != expected.model)
    mismatch("the model identity (model folder, weights dtype, file sizes and times)", model, expected.model);
}

std::uint64_t LatentsArtifact::bytes() const {
  std::uint64_t total_bytes = tensor_bytes(latents);
  for (const auto& [name, t] : sampler_state) total_bytes += tensor_bytes(t);
  for (const auto& [name, t] : noise_state) total_bytes += tensor_bytes(t);
  return total_bytes;
}

}  // namespace ftdr::torchbe
