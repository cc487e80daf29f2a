// backend/request_validation.cpp: see request_validation.h.
#include "adapter/request_validation.hpp"

#include <cmath>
#include <string>

#include "ftdr/sdk/error.hpp"
#include "samplers/sampler.hpp"

namespace ftdr::torchbe {
namespace {

[[noreturn]] void invalid(const std::string& field, const std::string& expected, const std::string& got) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, field + ": expected " + expected + ", got " + got);
}

void check_size(const std::string& field, int value, int factor) {
  if (value < 1 || value % factor != 0)
    invalid(field, "a positive multiple of " + std::to_string(factor) + " (the VAE's scale factor)",
            std::to_string(value));
}

}  // namespace

void validate_params(const ModelFolder& model, const sdk::GenerationParams& params) {
  const auto& r = params.request;
  const int factor = static_cast<int>(model.vae.scale_factor());
  check_size("width", params.width, factor);
  check_size("height", params.height, factor);
  if (r.steps < 1) invalid("steps", "at least 1", std::to_string(r.steps));
  if (r.batch < 1) invalid("batch", "at least 1", std::to_string(r.batch));
  if (params.batch < 1) invalid("batch", "a sub-batch of at least 1 image", std::to_string(params.batch));
  if (params.first_image < 0) invalid("first_image", "0 or more", std::to_string(params.first_image));
  if (!std::isfinite(r.cfg_scale)) invalid("cfg_scale", "a finite number", std::to_string(r.cfg_scale));
  if (!std::isfinite(r.eta) || r.eta < 0) invalid("eta", "a finite number >= 0", std::to_string(r.eta));
  const int layers = static_cast<int>(model.text_encoder.num_hidden_layers);
  if (r.clip_skip < 0 || r.clip_skip > layers)
    invalid("clip_skip", "0.." + std::to_string(layers) + " (the text encoder's layer count)",
            std::to_string(r.clip_skip));
  // The sampler's own checks; their messages start with "sampler:" / "steps:".
  make_sampler(r.sampler, model.scheduler_config, r.eta)->set_timesteps(r.steps);
}

}  // namespace ftdr::torchbe
