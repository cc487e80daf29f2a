// backend/torch_backend.cpp: see torch_backend.h.
#include "adapter/torch_backend.hpp"

#include <c10/util/Exception.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <thread>

#include <nlohmann/json.hpp>

#include "adapter/blas_info.hpp"
#include "adapter/error_classifier.hpp"
#include "adapter/memory_stats.hpp"
#include "adapter/model_info.hpp"
#include "adapter/request_validation.hpp"
#include "artifacts/artifact_io.hpp"
#include "artifacts/conditioning.hpp"
#include "artifacts/latents_artifact.hpp"
#include "artifacts/model_identity.hpp"
#include "ftdr/sdk/error.hpp"
#include "lora/lora_scope.hpp"
#include "memory/cpu_block_cache.hpp"
#include "nn/cpu_conv.hpp"
#include "nn/gemm_workers.hpp"
#include "nn/onednn_conv.hpp"
#include "nn/onednn_linear.hpp"
#include "nn/stop_point.hpp"
#include "pipeline/activation_estimate.hpp"
#include "pipeline/denoise_phase.hpp"
#include "pipeline/image_convert.hpp"
#include "pipeline/tiled_decode.hpp"
#include "samplers/sampler.hpp"

namespace ftdr::torchbe {
namespace {

class EmptyConfig final : public sdk::ConfigView {
 public:
  bool has(const std::string&) const override { return false; }
  std::string get_string(const std::string&, const std::string& f) const override { return f; }
  std::int64_t get_int(const std::string&, std::int64_t f) const override { return f; }
  double get_double(const std::string&, double f) const override { return f; }
  bool get_bool(const std::string&, bool f) const override { return f; }
  std::vector<std::string> get_string_list(const std::string&) const override { return {}; }
  std::shared_ptr<const ConfigView> table(const std::string&) const override {
    return std::make_shared<EmptyConfig>();
  }
  std::vector<std::string> keys() const override { return {}; }
  std::string where(const std::string& key) const override { return "[backend.libtorch] " + key; }
  [[noreturn]] void reject(const std::string& key, const std::string& expected) const override {
    throw sdk::Error(sdk::ErrorKind::invalid_request, where(key) + ": expected " + expected);
  }
};

template <class T>
const T& artifact_as(const sdk::Artifact& a, const char* phase) {
  const auto* typed = dynamic_cast<const T*>(&a);
  if (typed == nullptr) {
    throw sdk::Error(sdk::ErrorKind::invalid_request, std::string(phase) + ": expected a \"" + T::kKind +
                                                          "\" artifact made by the libtorch backend, got \"" +
                                                          a.kind() + "\"");
  }
  return *typed;
}

at::Device to_at(sdk::Device d, const at::Device& configured) {
  return d == sdk::Device::cuda ? (configured.is_cuda() ? configured : at::Device(at::kCUDA, 0))
                                : at::Device(at::kCPU);
}

// Runs one component in float32 for one phase when asked (recovery's "retry in f32", upcast_vae)
// and casts it back afterwards, so the next job finds the weights at the run's dtype. f16/bf16 ->
// f32 -> f16/bf16 is exact, so the weights come back bit for bit. The constructor also repairs a
// component left in the wrong dtype by a cast-back that failed (an allocation failure in a destructor
// cannot be thrown).
class PhaseUpcast {
 public:
  PhaseUpcast(torch::nn::Module& component, at::ScalarType run_dtype, bool upcast)
      : component_(component), run_dtype_(run_dtype), dtype_(upcast ? at::kFloat : run_dtype) {
    if (current() != dtype_) cast_floating(component_, dtype_);
  }
  ~PhaseUpcast() {
    try {
      if (current() != run_dtype_) cast_floating(component_, run_dtype_);
    } catch (...) {  // NOLINT(bugprone-empty-catch): the next phase's constructor casts it again
    }
  }
  PhaseUpcast(const PhaseUpcast&) = delete;
  PhaseUpcast& operator=(const PhaseUpcast&) = delete;
  at::ScalarType dtype() const { return dtype_; }

 private:
  at::ScalarType current() const {
    const auto params = component_.parameters();
    return params.empty() ? run_dtype_ : params.front().scalar_type();
  }

  torch::nn::Module& component_;
  at::ScalarType run_dtype_;
  at::ScalarType dtype_;
};

bool wants_f32(const sdk::RuntimeOptions& options) { return options.dtype == sdk::DType::f32; }

}  // namespace

TorchBackend::TorchBackend(const sdk::PluginContext& ctx) : logger_(ctx.logger), state_dir_(ctx.state_dir) {
  const EmptyConfig empty;
  const sdk::ConfigView& cfg = ctx.config ? *ctx.config : static_cast<const sdk::ConfigView&>(empty);
  config_ = parse_backend_config(cfg, cuda_is_available());
  if (const auto table = cfg.table(sdk::kFaultsTable)) faults_ = FaultPlan::parse(*table);
  faults_.merge(FaultPlan::from_environment());
  if (config_.threads > 0) at::set_num_threads(config_.threads);
  // OPENBLAS_NUM_THREADS=1 lets GEMMs run side by side too (threads = 0 sets and notes its own split).
  note_blas_threads(openblas_threads());
  if (config_.cpu_block_cache) install_cpu_block_cache();
  set_winograd_convs(config_.winograd);
  if (config_.device_budget_bytes > 0) set_memory_budget(config_.device_budget_bytes);
  if (logger_) {
    for (const auto& w : config_.warnings) logger_->warn(w);
  }
}

LoadedModel& TorchBackend::model() {
  if (!model_) throw sdk::Error(sdk::ErrorKind::internal, "libtorch backend: load() must be called first");
  return *model_;
}

const LoadedModel& TorchBackend::model() const { return const_cast<TorchBackend*>(this)->model(); }

bool TorchBackend::fault_point(const std::string& point, sdk::Phase phase, int step) {
  if (fault_hook_) fault_hook_(point);
  const std::optional<FaultAction> action = faults_.check(phase, step);
  if (!action) return false;
  if (logger_) logger_->warn(action->message);
  // The real exception types, as CUDA would throw them, so they take the path of a real failure
  // (run_classified turns them into out_of_memory / device_error).
  if (action->kind == FaultKind::oom)
    C10_THROW_ERROR(OutOfMemoryError, "CUDA out of memory. " + action->message);
  if (action->kind == FaultKind::device_error) C10_THROW_ERROR(Error, "CUDA error: " + action->message);
  if (action->kind == FaultKind::sticky)  // CUDA's words, which the classifier marks sticky
    C10_THROW_ERROR(Error, "CUDA error: an illegal memory access was encountered (" + action->message + ")");
  if (is_fatal(action->kind)) carry_out_fatal(*action);
  if (action->kind == FaultKind::slow) std::this_thread::sleep_for(std::chrono::milliseconds(action->ms));
  return action->kind == FaultKind::nan;
}

void TorchBackend::load(const std::string& model_dir) {
  run_classified("load", [&] {
    try {
      model_ = load_model(model_dir, to_scalar_type(config_.dtype), config_.model_options);
      info_ = make_model_info(model_->folder);
      info_.dtype = config_.dtype;
      model_identity_ = model_identity(model_->folder, config_.dtype);
      choose_threads_for_model();
    } catch (const nlohmann::json::exception& e) {
      model_.reset();
      throw sdk::Error(sdk::ErrorKind::model_error,
                       model_dir + ": unexpected value in a config file: " + e.what());
    }
    if (logger_) {
      logger_->info("loaded " + info_.name + " (" + info_.family + ", " +
                    std::string(sdk::to_string(config_.dtype)) + ", default sampler " +
                    info_.default_sampler + ")");
    }
  });
}

void TorchBackend::choose_threads_for_model() {
  if (config_.threads > 0 || !config_.device.is_cpu()) return;
  threads_ =
      choose_threads(calibration_workload(model_->folder.unet, model_->dtype), state_dir_, model_->unet);
  if (logger_) logger_->info("threads = 0: " + to_string(threads_->split) + " (" + threads_->how + ")");
}

std::string TorchBackend::thread_choice_line() const {
  std::string line = "thread choice: ";
  if (config_.threads > 0)
    return line + "threads = " + std::to_string(config_.threads) +
           " in the config (BLAS threads as OPENBLAS_NUM_THREADS or the library's default)";
  if (!config_.device.is_cpu()) return line + "threads = 0: libtorch's default (the model runs on CUDA)";
  if (!threads_) return line + "threads = 0: measured when a model is loaded (libtorch's default until then)";
  line += "threads = 0: " + to_string(threads_->split) + ", " + threads_->how;
  if (!threads_->decision.empty()) line += "; " + threads_->decision;
  if (!threads_->timings.empty())
    line += "; fastest round (intra-op/BLAS): " + summarize_timings(threads_->timings);
  return line;
}

namespace {

std::string cpu_block_cache_line() {
  const CpuBlockCacheStats s = cpu_block_cache_stats();
  if (!s.installed) return "cpu_block_cache: off (libtorch's CPU allocator)";
  return "cpu_block_cache: on (" + std::to_string(s.hits) + " blocks reused, " + std::to_string(s.misses) +
         " mapped; " + std::to_string(s.live_bytes >> 20) + " MiB in tensors, " +
         std::to_string(s.cached_bytes >> 20) + " MiB cached)";
}

}  // namespace

sdk::ModelInfo TorchBackend::info() const {
  model();
  return info_;
}

std::vector<std::string> TorchBackend::diagnostics() const {
  std::vector<std::string> lines;
  lines.push_back(std::string("libtorch: ") + TORCH_VERSION +
                  (cuda_is_available() ? " (CUDA available)" : " (no CUDA)"));
  lines.push_back("device: " + config_.device.str());
  lines.push_back("dtype: " + std::string(sdk::to_string(config_.dtype)));
  const int blas_threads = openblas_threads();
  lines.push_back("threads: " + std::to_string(at::get_num_threads()) + " intra-op, " +
                  std::to_string(at::get_num_interop_threads()) + " inter-op, " +
                  (blas_threads > 0 ? std::to_string(blas_threads) + " BLAS (OpenBLAS)"
                                    : std::string("BLAS threads not known (not OpenBLAS)")) +
                  ", " + std::to_string(usable_cores()) + " usable cores");
  lines.push_back(thread_choice_line());
  lines.push_back(describe_blas());
  lines.push_back(describe_onednn_conv());
  lines.push_back(describe_winograd_convs());
  lines.push_back(describe_onednn_linear());
  lines.push_back(
      "attention: " + std::string(sdk::to_string(config_.attention)) +
      (sdpa_available() ? " (sdpa available)" : " (sdpa needs libtorch >= 2: falls back to naive)"));
  lines.push_back(std::string("health_check: ") + (config_.health_check ? "on" : "off"));
  lines.push_back(cpu_block_cache_line());
  const std::string backtrack = std::to_string(config_.prompt.comma_backtrack);
  lines.push_back(config_.prompt.syntax == PromptSyntax::a1111
                      ? "prompt_syntax: a1111 (comma backtrack " + backtrack + ")"
                      : std::string("prompt_syntax: diffusers"));
  if (model_)
    lines.push_back("model: " + info_.name + " (" + info_.family + ", " + info_.prediction_type + ")");
  if (budget_bytes_ > 0) {
    char fraction[32];
    std::snprintf(fraction, sizeof fraction, "%.3f", memory_fraction_);
    lines.push_back("memory budget: " + std::to_string(budget_bytes_ >> 20) + " MiB" +
                    (memory_fraction_ > 0
                         ? std::string(" (CUDA caching allocator capped at fraction ") + fraction + ")"
                         : std::string(" (not enforced on the CPU: memory policies only)")));
  }
  return lines;
}

std::vector<sdk::ComponentInfo> TorchBackend::components() const { return model().components(); }

void TorchBackend::place(const std::string& component, sdk::Device where) {
  run_classified("place " + component, [&] {
    if (where == sdk::Device::cuda && !config_.device.is_cuda()) {
      throw sdk::Error(sdk::ErrorKind::invalid_request,
                       "place " + component + ": the backend runs on the CPU (device = \"" +
                           config_.device.str() + "\"); nothing can go to cuda");
    }
    model().place(component, to_at(where, config_.device));
  });
}

sdk::Device TorchBackend::device() const {
  return config_.device.is_cuda() ? sdk::Device::cuda : sdk::Device::cpu;
}

sdk::MemoryStats TorchBackend::memory_stats() const { return query_memory_stats(config_.device); }

void TorchBackend::set_memory_budget(std::uint64_t budget_bytes) {
  if (budget_bytes == 0) return;
  run_classified("set_memory_budget",
                 [&] { memory_fraction_ = cap_device_memory(config_.device, budget_bytes); });
  budget_bytes_ = budget_bytes;
  if (logger_) {
    logger_->info("memory budget " + std::to_string(budget_bytes >> 20) + " MiB" +
                  (memory_fraction_ > 0
                       ? ": CUDA caching allocator capped at fraction " + std::to_string(memory_fraction_)
                       : ": not enforced on the CPU"));
  }
}

void TorchBackend::reset_peak_memory() { reset_peak_memory_stats(config_.device); }

void TorchBackend::release_cached_memory() { torchbe::release_cached_memory(config_.device); }

std::uint64_t TorchBackend::estimate_activation_bytes(sdk::Phase phase,
                                                      const sdk::GenerationParams& params) const {
  EstimateContext ctx;
  ctx.run_dtype = config_.dtype;
  ctx.default_attention = config_.attention;
  ctx.sdpa_native = sdpa_available();
  ctx.per_head_scores = config_.device.is_cpu();
  ctx.head_workers = gemm_workers();
  if (phase == sdk::Phase::diffusion) {  // the only estimate that uses it; it tokenizes the prompts
    try {
      ctx.context_positions = static_cast<double>(
          context_positions(model().tokenizer, without_lora_tags(params.request), config_.prompt));
    } catch (const sdk::Error&) {  // a prompt that does not parse: validate() says so; estimate for one chunk
    }
  }
  return torchbe::estimate_activation_bytes(model().folder, ctx, phase, params);
}

void TorchBackend::validate(const sdk::GenerationParams& params) const {
  run_classified("validate", [&] {
    validate_params(model().folder, params);
    check_prompt_syntax(without_lora_tags(params.request), config_.prompt);
    check_loras(params.request.prompt, config_.lora_dir, model());
  });
}

std::string TorchBackend::resolved_sampler(const sdk::GenerationParams& params) const {
  return params.request.sampler == "default" ? info_.default_sampler : params.request.sampler;
}

void TorchBackend::apply_attention(const sdk::RuntimeOptions& options) {
  const AttentionSettings settings = resolve_attention(config_, options);
  model().text_encoder->set_attention(settings);
  if (model().text_encoder_2) model().text_encoder_2->set_attention(settings);
  model().unet->set_attention(settings);
  model().vae->set_attention(settings);
}

sdk::ArtifactPtr TorchBackend::encode(const sdk::GenerationParams& params) {
  return run_classified("encode", [&]() -> sdk::ArtifactPtr {
    const bool poison = fault_point("encode", sdk::Phase::encoding, 0);
    StopScope stop(stop_observer_);
    apply_attention(params.options);
    PhaseUpcast upcast(*model().text_encoder, model().dtype, wants_f32(params.options));
    std::optional<PhaseUpcast> upcast_2;
    if (model().text_encoder_2)
      upcast_2.emplace(*model().text_encoder_2, model().dtype, wants_f32(params.options));
    // Inside the upcasts: the patched weights are computed at the phase's dtype and the loaded ones
    // are back before the upcasts cast them down again.
    LoraScope loras(params.request.prompt, config_.lora_dir, model(), LoraStage::text_encoders);
    sdk::GenerationParams text = params;
    text.request = without_lora_tags(params.request);
    auto out = encode_conditioning(text);
    if (poison) out->cond = at::full_like(out->cond, std::numeric_limits<float>::quiet_NaN());
    // Caught here, the failure is the encoder's: a retry encodes again. Unchecked, it would surface
    // in diffusion and every retry of diffusion would reuse the bad conditioning.
    auto finite = [](const at::Tensor& t) { return !t.defined() || at::isfinite(t).all().item<bool>(); };
    if (config_.health_check &&
        !(finite(out->cond) && finite(out->uncond) && finite(out->cond_pooled) && finite(out->uncond_pooled)))
      throw sdk::Error(sdk::ErrorKind::numerical_error,
                       "libtorch backend, encode: the text encoder output has NaN/Inf");
    return out;
  });
}

std::shared_ptr<ConditioningArtifact> TorchBackend::encode_conditioning(const sdk::GenerationParams& params) {
  LoadedModel& m = model();
  if (!m.folder.is_sdxl()) return encode_prompts(m.tokenizer, m.text_encoder, params, config_.prompt);
  const SdxlTextEncoders encoders{m.tokenizer, m.text_encoder, *m.tokenizer_2, m.text_encoder_2};
  return encode_prompts_sdxl(encoders, params, config_.prompt, m.folder.force_zeros_for_empty_prompt);
}

sdk::ArtifactPtr TorchBackend::denoise(const sdk::GenerationParams& params, const sdk::Artifact& conditioning,
                                       const sdk::Artifact* resume, sdk::StepObserver& observer) {
  return run_classified("denoise", [&]() -> sdk::ArtifactPtr {
    const auto& cond = artifact_as<ConditioningArtifact>(conditioning, "denoise");
    const LatentsArtifact* from =
        resume ? &artifact_as<LatentsArtifact>(*resume, "denoise (resume)") : nullptr;
    apply_attention(params.options);
    DenoiseSetup setup;
    setup.params = params;
    setup.sampler = resolved_sampler(params);
    setup.model_identity = model_identity_;
    setup.scheduler_config = model().folder.scheduler_config;
    setup.latent_channels = info_.latent_channels;
    setup.vae_scale_factor = info_.vae_scale_factor;
    setup.health_check = config_.health_check;
    setup.before_step = [this](int i) {
      return fault_point("denoise.step." + std::to_string(i), sdk::Phase::diffusion, i + 1);
    };
    PhaseUpcast upcast(*model().unet, model().dtype, wants_f32(params.options));
    LoraScope loras(params.request.prompt, config_.lora_dir, model(), LoraStage::unet);
    StopScope stop(&observer);
    return run_denoise(model().unet, cond, from, setup, observer);
  });
}

std::vector<sdk::Image> TorchBackend::decode(const sdk::GenerationParams& params,
                                             const sdk::Artifact& latents, const sdk::TilePlan* tiles) {
  std::vector<sdk::Image> images = run_classified("decode", [&] {
    const auto& lat = artifact_as<LatentsArtifact>(latents, "decode");
    // Only a file can hold another request's latents: in memory they come from this backend's denoise.
    if (lat.from_file)
      lat.identity.check_matches(LatentsIdentity::of(params, resolved_sampler(params), model_identity_));
    const bool poison = fault_point("decode", sdk::Phase::decoding, 0);
    StopScope stop(stop_observer_);
    apply_attention(params.options);
    auto& vae = model().vae;
    PhaseUpcast upcast(*vae, model().dtype,
                       params.options.upcast_vae || wants_f32(params.options) || sdxl_vae_upcast());
    const at::Device where = model().location("vae");
    at::Tensor z = (lat.latents.to(where, at::kFloat) / model().folder.vae.scaling_factor).to(upcast.dtype());
    if (poison) z = z.clone().fill_(std::numeric_limits<float>::quiet_NaN());
    const at::Tensor decoded =
        decode_latents(vae, z, params.options.vae_tiling ? tiles : nullptr, info_.vae_scale_factor);
    if (config_.health_check && !at::isfinite(decoded).all().item<bool>()) {
      throw sdk::Error(sdk::ErrorKind::numerical_error,
                       "decode: the VAE output has NaN/Inf values (dtype " +
                           std::string(sdk::to_string(config_.dtype)) +
                           (params.options.upcast_vae ? ", upcast" : "; upcast_vae may help") + ")");
    }
    return unit_to_rgb8(decoded_to_unit(decoded));
  });
  // The job's large blocks are free now; kept between jobs they would only hold memory.
  release_cpu_block_cache();
  return images;
}

void TorchBackend::save_artifact(const sdk::Artifact& artifact, const std::string& path) const {
  run_classified("save_artifact", [&] { save_artifact_file(artifact, path); });
}

sdk::ArtifactPtr TorchBackend::load_artifact(const std::string& path) const {
  return run_classified("load_artifact", [&] { return load_artifact_file(path); });
}

// diffusers' SDXL pipeline decodes in f32 when the VAE is f16 and its config says force_upcast (SDXL's
// VAE overflows in f16). bf16 keeps its range and runs as it is, as diffusers does.
bool TorchBackend::sdxl_vae_upcast() const {
  return model().folder.is_sdxl() && model().folder.vae.force_upcast && config_.dtype == sdk::DType::f16;
}

std::vector<std::string> TorchBackend::samplers() const { return sampler_names(); }

}  // namespace ftdr::torchbe
