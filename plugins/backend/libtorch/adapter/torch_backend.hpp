// adapter/torch_backend.hpp: the libtorch ModelBackend (sdk/backend.hpp) — the plugin's one object.
//
//   TorchBackend backend(ctx);                 // reads [backend.libtorch] (backend_config.h)
//   backend.load("models/tiny-sd1");           // weights to the CPU at the configured dtype
//   backend.place("unet", sdk::Device::cuda);  // the memory policy decides; CPU runs skip this
//   auto cond = backend.encode(params);
//   auto latents = backend.denoise(params, *cond, nullptr, observer);
//   auto images = backend.decode(params, *latents, nullptr);
//
// Every phase computes where its network currently is (place() moves networks; nothing moves
// implicitly), and every call is wrapped by run_classified() (error_classifier.h), so what escapes
// is always an sdk::Error of the right kind.
// dtype: the configured dtype is the dtype of the loaded weights and of every phase.
// health_check also checks the VAE output: NaN/Inf there is sdk::Error(numerical_error) (an f16
// VAE overflow; recovery can retry with upcast_vae).
// Checkpoints record the request and model they belong to (latents_artifact.h); one read back
// from a file is checked against the params before denoise resumes it or decode uses it.
// RuntimeOptions::dtype is not used (weights are loaded once; converting them per attempt would
// double host memory); RuntimeOptions::upcast_vae runs the VAE in float32 for one decode.
// threads = 0 on the CPU: load() picks the intra-op / BLAS thread split for the model's sizes
// (threads/thread_setup.hpp: measured once per machine and model size, cached in state_dir);
// diagnostics() says which and why.
// Threads: as sdk/backend.hpp says, one worker thread at a time; memory_stats() from any thread.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapter/backend_config.hpp"
#include "faults/fault_plan.hpp"
#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/logger.hpp"
#include "pipeline/loaded_model.hpp"
#include "threads/thread_setup.hpp"

namespace ftdr::torchbe {

class ConditioningArtifact;  // artifacts/conditioning.hpp

class TorchBackend final : public sdk::ModelBackend {
 public:
  // ctx.config may be null (all defaults); ctx.logger may be null (no logging).
  explicit TorchBackend(const sdk::PluginContext& ctx);

  void load(const std::string& model_dir) override;
  sdk::ModelInfo info() const override;
  std::vector<std::string> diagnostics() const override;

  std::vector<sdk::ComponentInfo> components() const override;
  void place(const std::string& component, sdk::Device where) override;
  sdk::Device device() const override;
  sdk::MemoryStats memory_stats() const override;
  void reset_peak_memory() override;
  void release_cached_memory() override;

  std::uint64_t estimate_activation_bytes(sdk::Phase phase,
                                          const sdk::GenerationParams& params) const override;
  void validate(const sdk::GenerationParams& params) const override;

  // encode() and decode() call the observer set here between network blocks
  // (sdk::ModelBackend::set_stop_observer); denoise() uses its own observer argument.
  void set_stop_observer(sdk::StepObserver* observer) override { stop_observer_ = observer; }
  sdk::ArtifactPtr encode(const sdk::GenerationParams& params) override;
  sdk::ArtifactPtr denoise(const sdk::GenerationParams& params, const sdk::Artifact& conditioning,
                           const sdk::Artifact* resume, sdk::StepObserver& observer) override;
  std::vector<sdk::Image> decode(const sdk::GenerationParams& params, const sdk::Artifact& latents,
                                 const sdk::TilePlan* tiles) override;

  void save_artifact(const sdk::Artifact& artifact, const std::string& path) const override;
  sdk::ArtifactPtr load_artifact(const std::string& path) const override;
  std::vector<std::string> samplers() const override;  // samplers/sampler.hpp: sampler_names()

  // The device memory budget (backend_config.h: host.device_budget_mb, applied at construction).
  // On CUDA caps the caching allocator there (memory_stats.h: cap_device_memory), so exceeding it
  // is a real out_of_memory; on the CPU only remembered (diagnostics() shows it). May be called
  // again to change the budget; 0 leaves the allocator as it is.
  void set_memory_budget(std::uint64_t budget_bytes);
  std::uint64_t memory_budget() const { return budget_bytes_; }
  double memory_fraction() const { return memory_fraction_; }  // 0 = allocator not capped

  // Fault injection, two ways:
  //  - the config's [faults] table (handed over as `faults`) and the FTDR_FAULTS environment
  //    variable (faults/fault_plan.hpp), read at construction: oom / device_error are thrown at the
  //    point as c10::OutOfMemoryError / a c10::Error with CUDA's "CUDA error: ..." text and then
  //    classified like real ones; nan poisons the step's latents (StepEvent::finite = false), the
  //    encoder output or the decoder input (decode then fails its health check with
  //    numerical_error); slow sleeps;
  //  - a hook for tests, called with the point name ("encode", "decode", "denoise.step.<i>", i the
  //    0-based iteration) before each point; what it throws (e.g. a c10::Error with CUDA's OOM
  //    text) is classified like a real failure. Empty by default.
  using FaultHook = std::function<void(const std::string& point)>;
  void set_fault_hook(FaultHook hook) { fault_hook_ = std::move(hook); }

  const BackendConfig& config() const { return config_; }
  // The loaded networks, read-only, for tests and tools (e.g. that a LoRA job leaves them as loaded).
  const LoadedModel& loaded_model() const { return model(); }

 private:
  LoadedModel& model();
  const LoadedModel& model() const;
  // Runs the hook and the fault plan at one point; true when the plan asks for NaN poisoning.
  bool fault_point(const std::string& point, sdk::Phase phase, int step);
  void apply_attention(const sdk::RuntimeOptions& options);
  std::string resolved_sampler(const sdk::GenerationParams& params) const;
  // The prompts through the text encoder (both, for SDXL).
  std::shared_ptr<ConditioningArtifact> encode_conditioning(const sdk::GenerationParams& params);
  bool sdxl_vae_upcast() const;
  void choose_threads_for_model();
  std::string thread_choice_line() const;

  BackendConfig config_;
  std::shared_ptr<sdk::Logger> logger_;
  std::optional<LoadedModel> model_;
  sdk::ModelInfo info_;
  std::string model_identity_;  // model_identity.h, of the loaded model
  FaultHook fault_hook_;
  FaultPlan faults_;
  std::uint64_t budget_bytes_ = 0;
  double memory_fraction_ = 0;
  sdk::StepObserver* stop_observer_ = nullptr;
  std::string state_dir_;                // PluginContext::state_dir: the thread decision's cache
  std::optional<ThreadReport> threads_;  // threads = 0 on the CPU, once a model is loaded
};

}  // namespace ftdr::torchbe
