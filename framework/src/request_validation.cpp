#include "ftdr/framework/request_validation.hpp"

#include <algorithm>
#include <cmath>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

[[noreturn]] void reject(const std::string& field, const std::string& expected, const std::string& got) {
  throw sdk::Error(sdk::ErrorKind::invalid_request,
                   "request field '" + field + "': expected " + expected + ", got " + got);
}

// Limits well above anything a small GPU runs; they catch typos (steps = 20000) and overflow.
constexpr int kMaxSide = 8192;
constexpr int kMaxSteps = 1000;
constexpr int kMaxBatch = 64;

void check_side(const std::string& field, int value, int multiple) {
  if (value <= 0 || value > kMaxSide || value % multiple != 0) {
    reject(field, "a multiple of " + std::to_string(multiple) + " in [" + std::to_string(multiple) +
                      ", " + std::to_string(kMaxSide) + "]",
           std::to_string(value));
  }
}

// The backend owns its sampler names; "default" (the model's own scheduler) is always valid.
void check_sampler(const std::string& sampler, const std::vector<std::string>* samplers) {
  if (!samplers || samplers->empty() || sampler == "default") return;
  if (std::find(samplers->begin(), samplers->end(), sampler) != samplers->end()) return;
  std::string list = "default";
  for (const auto& s : *samplers) list += ", " + s;
  reject("sampler", "one of " + list, "'" + sampler + "'");
}

}  // namespace

void validate_request(const sdk::GenerationRequest& r, const sdk::ModelInfo* model,
                      const std::vector<std::string>* samplers) {
  const int multiple = model && model->vae_scale_factor > 0 ? model->vae_scale_factor : 8;
  check_side("width", r.width, multiple);
  check_side("height", r.height, multiple);
  if (r.steps < 1 || r.steps > kMaxSteps) {
    reject("steps", "an integer in [1, " + std::to_string(kMaxSteps) + "]", std::to_string(r.steps));
  }
  if (r.batch < 1 || r.batch > kMaxBatch) {
    reject("batch", "an integer in [1, " + std::to_string(kMaxBatch) + "]", std::to_string(r.batch));
  }
  if (!std::isfinite(r.cfg_scale) || r.cfg_scale < 0) {
    reject("cfg_scale", "a finite number >= 0", std::to_string(r.cfg_scale));
  }
  if (!std::isfinite(r.eta) || r.eta < 0 || r.eta > 1) reject("eta", "a number in [0, 1]", std::to_string(r.eta));
  if (r.clip_skip < 0) reject("clip_skip", "an integer >= 0", std::to_string(r.clip_skip));
  check_sampler(r.sampler, samplers);
  if (r.output_prefix.find('/') != std::string::npos || r.output_prefix.find('\\') != std::string::npos) {
    reject("output_prefix", "a file name prefix without '/' or '\\'", "'" + r.output_prefix + "'");
  }
  // seed + batch - 1 must not wrap: image i uses seed + i.
  if (r.seed > UINT64_MAX - static_cast<std::uint64_t>(r.batch)) {
    reject("seed", "at most 2^64 - 1 - batch", std::to_string(r.seed));
  }
}

sdk::GenerationParams initial_params(const sdk::GenerationRequest& request, const sdk::RuntimeOptions& options) {
  sdk::GenerationParams p;
  p.request = request;
  p.options = options;
  p.first_image = 0;
  p.batch = request.batch;
  p.width = request.width;
  p.height = request.height;
  return p;
}

}  // namespace ftdr::framework
