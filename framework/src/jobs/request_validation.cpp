#include "ftdr/framework/jobs/request_validation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ftdr/sdk/error.hpp"
#include "text_checks.hpp"

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
constexpr double kMaxCfg = 100;          // the help's "0..100"; 1e30 is a typo, not a guidance scale
constexpr std::size_t kMaxPrefix = 200;  // bytes; leaves room for "-<index>-<n>.png" in 255

// Before the model is known (`model_size_ok`), 0 stands for its default size (with_model_size()).
void check_side(const std::string& field, int value, int multiple, bool model_size_ok) {
  if (model_size_ok && value == 0) return;
  if (value <= 0 || value > kMaxSide || value % multiple != 0) {
    reject(field,
           std::string(model_size_ok ? "0 (the model's default size) or " : "") + "a multiple of " +
               std::to_string(multiple) + " in [" + std::to_string(multiple) + ", " +
               std::to_string(kMaxSide) + "]",
           std::to_string(value));
  }
}

// Short: "1e+30", "nan", "-2" (std::to_string writes 1e30 with 37 digits).
std::string number_text(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

// Prompts and the file name prefix (text_checks.hpp): checked here so that a bad byte is refused
// before the first step, not found by the JSON writer after the last one.
void check_text(const sdk::GenerationRequest& r) {
  if (auto problem = text_problem(r.prompt, TextKind::prompt))
    reject("prompt", "UTF-8 text without control characters other than tab and line breaks", *problem);
  if (auto problem = text_problem(r.negative_prompt, TextKind::prompt))
    reject("negative_prompt", "UTF-8 text without control characters other than tab and line breaks",
           *problem);
  if (auto problem = text_problem(r.output_prefix, TextKind::file_name))
    reject("output_prefix", "a file name prefix: UTF-8 without control characters", *problem);
  if (r.output_prefix.size() > kMaxPrefix)
    reject("output_prefix", "at most " + std::to_string(kMaxPrefix) + " bytes",
           std::to_string(r.output_prefix.size()) + " bytes");
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
  check_side("width", r.width, multiple, model == nullptr);
  check_side("height", r.height, multiple, model == nullptr);
  if (r.steps < 1 || r.steps > kMaxSteps) {
    reject("steps", "an integer in [1, " + std::to_string(kMaxSteps) + "]", std::to_string(r.steps));
  }
  if (r.batch < 1 || r.batch > kMaxBatch) {
    reject("batch", "an integer in [1, " + std::to_string(kMaxBatch) + "]", std::to_string(r.batch));
  }
  if (!std::isfinite(r.cfg_scale) || r.cfg_scale < 0 || r.cfg_scale > kMaxCfg) {
    reject("cfg_scale", "a number in [0, 100]", number_text(r.cfg_scale));
  }
  if (!std::isfinite(r.eta) || r.eta < 0 || r.eta > 1)
    reject("eta", "a number in [0, 1]", number_text(r.eta));
  if (r.clip_skip < 0) reject("clip_skip", "an integer >= 0", std::to_string(r.clip_skip));
  check_sampler(r.sampler, samplers);
  if (r.output_prefix.find('/') != std::string::npos || r.output_prefix.find('\\') != std::string::npos) {
    reject("output_prefix", "a file name prefix without '/' or '\\'", "'" + r.output_prefix + "'");
  }
  // seed + batch - 1 must not wrap: image i uses seed + i.
  if (r.seed > UINT64_MAX - static_cast<std::uint64_t>(r.batch)) {
    reject("seed", "at most 2^64 - 1 - batch", std::to_string(r.seed));
  }
  check_text(r);
}

sdk::GenerationRequest with_model_size(sdk::GenerationRequest request, const sdk::ModelInfo& model) {
  if (request.width == 0) request.width = model.default_size;
  if (request.height == 0) request.height = model.default_size;
  return request;
}

sdk::GenerationParams initial_params(const sdk::GenerationRequest& request,
                                     const sdk::RuntimeOptions& options) {
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
