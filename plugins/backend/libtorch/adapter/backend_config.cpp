// backend/backend_config.cpp: parsing of the [backend.libtorch] table (see backend_config.h).
#include "adapter/backend_config.hpp"

#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

at::ScalarType to_scalar_type(sdk::DType dtype) {
  switch (dtype) {
    case sdk::DType::f32: return at::kFloat;
    case sdk::DType::f16: return at::kHalf;
    case sdk::DType::bf16: return at::kBFloat16;
  }
  return at::kFloat;
}

bool parse_attention_mode(const std::string& text, sdk::AttentionMode& out) {
  for (auto mode : {sdk::AttentionMode::automatic, sdk::AttentionMode::naive, sdk::AttentionMode::sliced,
                    sdk::AttentionMode::sdpa}) {
    if (text == sdk::to_string(mode)) {
      out = mode;
      return true;
    }
  }
  return false;
}

namespace {

at::Device parse_device(const sdk::ConfigView& cfg, bool cuda_available) {
  const std::string text = cfg.get_string("device", "auto");
  if (text == "cpu") return at::kCPU;
  if (text == "auto") return cuda_available ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  if (text == "cuda") {
    if (!cuda_available) {
      throw sdk::Error(sdk::ErrorKind::invalid_request,
                       cfg.where("device") +
                           ": \"cuda\" was asked for but this libtorch build has no usable CUDA device "
                           "(use \"cpu\" or \"auto\")");
    }
    return at::Device(at::kCUDA, 0);
  }
  cfg.reject("device", "\"cpu\", \"cuda\" or \"auto\"");
  return at::kCPU;  // not reached: reject() throws (GCC does not see [[noreturn]] through the virtual call)
}

sdk::DType parse_dtype(const sdk::ConfigView& cfg, const at::Device& device,
                       std::vector<std::string>& warnings) {
  const std::string text = cfg.get_string("dtype", "f32");
  sdk::DType dtype = sdk::DType::f32;
  if (text == "f32") {
    dtype = sdk::DType::f32;
  } else if (text == "f16") {
    dtype = sdk::DType::f16;
  } else if (text == "bf16") {
    dtype = sdk::DType::bf16;
  } else {
    cfg.reject("dtype", "\"f32\", \"f16\" or \"bf16\"");
  }
  if (dtype == sdk::DType::f16 && device.is_cpu()) {
    warnings.push_back(
        cfg.where("dtype") +
        ": f16 is not supported on the CPU (missing half kernels, slower than f32); using f32");
    dtype = sdk::DType::f32;
  }
  return dtype;
}

PromptSettings parse_prompt_settings(const sdk::ConfigView& cfg) {
  PromptSettings out;
  const std::string syntax = cfg.get_string("prompt_syntax", "diffusers");
  if (syntax == "a1111")
    out.syntax = PromptSyntax::a1111;
  else if (syntax != "diffusers")
    cfg.reject("prompt_syntax", "\"diffusers\" or \"a1111\"");
  // A1111's setting is a slider 0..74: a comma further back than the chunk's start is no comma.
  const std::int64_t backtrack = cfg.get_int("prompt_comma_backtrack", 20);
  if (backtrack < 0 || backtrack > 74)
    cfg.reject("prompt_comma_backtrack", "an integer in 0..74 (0 = never)");
  out.comma_backtrack = static_cast<int>(backtrack);
  return out;
}

}  // namespace

BackendConfig parse_backend_config(const sdk::ConfigView& cfg, bool cuda_available) {
  BackendConfig out;
  out.device = parse_device(cfg, cuda_available);
  out.dtype = parse_dtype(cfg, out.device, out.warnings);

  const std::int64_t threads = cfg.get_int("threads", 0);
  if (threads < 0 || threads > 1024)
    cfg.reject("threads", "an integer in 0..1024 (0 = measured for the model)");
  out.threads = static_cast<int>(threads);

  if (!parse_attention_mode(cfg.get_string("attention", "auto"), out.attention))
    cfg.reject("attention", "\"auto\", \"naive\", \"sliced\" or \"sdpa\"");
  const std::int64_t slice = cfg.get_int("attention_slice_size", 0);
  if (slice < 0) cfg.reject("attention_slice_size", "an integer >= 0 (0 = the backend's choice)");
  out.attention_slice_size = static_cast<int>(slice);

  out.health_check = cfg.get_bool("health_check", true);
  out.cpu_block_cache = cfg.get_bool("cpu_block_cache", true);
  out.winograd = cfg.get_bool("winograd", true);
  out.prompt = parse_prompt_settings(cfg);
  out.lora_dir = cfg.get_string("lora_dir", "");

  // Values the host passes (plugin_set.hpp: the `host` sub-table), not written by users.
  if (const auto host = cfg.table(sdk::kHostTable)) {
    const std::int64_t budget_mb = host->get_int(sdk::kHostDeviceBudgetMb, 0);
    if (budget_mb < 0) host->reject(sdk::kHostDeviceBudgetMb, "an integer >= 0 (MiB; 0 = no budget)");
    out.device_budget_bytes = static_cast<std::uint64_t>(budget_mb) * 1024 * 1024;
    out.model_options.vae = host->get_string(sdk::kHostModelVae, "");
    out.model_options.config = host->get_string(sdk::kHostModelConfig, "");
    out.model_options.prediction_type = host->get_string(sdk::kHostModelPredictionType, "");
  }
  return out;
}

}  // namespace ftdr::torchbe

namespace ftdr::torchbe {

AttentionSettings resolve_attention(const BackendConfig& config, const sdk::RuntimeOptions& options) {
  sdk::AttentionMode mode = options.attention;
  if (mode == sdk::AttentionMode::automatic) mode = config.attention;
  AttentionSettings out;
  switch (mode) {
    case sdk::AttentionMode::naive: out.mode = AttentionMode::naive; break;
    case sdk::AttentionMode::sliced: out.mode = AttentionMode::sliced; break;
    case sdk::AttentionMode::sdpa: out.mode = AttentionMode::sdpa; break;
    case sdk::AttentionMode::automatic:
      out.mode = sdpa_available() ? AttentionMode::sdpa : AttentionMode::naive;
      break;
  }
  out.slice_size =
      options.attention_slice_size > 0 ? options.attention_slice_size : config.attention_slice_size;
  return out;
}

}  // namespace ftdr::torchbe
