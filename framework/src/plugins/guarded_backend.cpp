// The ModelBackend guard (plugin_guard.hpp): every call through plugin_call, and the ABI gates of
// the backend's optional parts (sdk/version.hpp rules 2 and 3).
#include "ftdr/framework/plugins/plugin_guard.hpp"

namespace ftdr::framework {
namespace {

using sdk::Artifact;
using sdk::ArtifactPtr;
using sdk::GenerationParams;

class GuardedBackend final : public sdk::ModelBackend, public PluginGuard {
 public:
  GuardedBackend(std::shared_ptr<sdk::ModelBackend> inner, const PluginInfo& info)
      : PluginGuard(info), inner_(std::move(inner)) {}

  void load(const std::string& dir) override {
    guarded("load", [&] { inner_->load(dir); });
  }

  sdk::ModelInfo info() const override {
    sdk::ModelInfo out = guarded("info", [&] { return inner_->info(); });
    // A 1.0 backend's code never wrote this field: what is there is whatever the host's memory held.
    if (!has_abi_minor(sdk::kAbiMinorModelInfoDtype)) out.dtype = sdk::DType::f32;
    return out;
  }

  std::vector<std::string> diagnostics() const override {
    return guarded("diagnostics", [&] { return inner_->diagnostics(); });
  }
  std::vector<sdk::ComponentInfo> components() const override {
    return guarded("components", [&] { return inner_->components(); });
  }
  void place(const std::string& component, sdk::Device where) override {
    guarded("place", [&] { inner_->place(component, where); });
  }
  sdk::Device device() const override {
    return guarded("device", [&] { return inner_->device(); });
  }
  sdk::MemoryStats memory_stats() const override {
    return guarded("memory_stats", [&] { return inner_->memory_stats(); });
  }
  void reset_peak_memory() override {
    guarded("reset_peak_memory", [&] { inner_->reset_peak_memory(); });
  }
  void release_cached_memory() override {
    guarded("release_cached_memory", [&] { inner_->release_cached_memory(); });
  }
  std::uint64_t estimate_activation_bytes(sdk::Phase phase, const GenerationParams& params) const override {
    return guarded("estimate_activation_bytes",
                   [&] { return inner_->estimate_activation_bytes(phase, params); });
  }
  void validate(const GenerationParams& params) const override {
    guarded("validate", [&] { inner_->validate(params); });
  }
  ArtifactPtr encode(const GenerationParams& params) override {
    return guarded("encode", [&] { return inner_->encode(params); });
  }
  // The observer's own sdk::Error (cancelled, timeout, numerical_error) passes through unchanged.
  ArtifactPtr denoise(const GenerationParams& params, const Artifact& conditioning, const Artifact* resume,
                      sdk::StepObserver& observer) override {
    return guarded("denoise", [&] { return inner_->denoise(params, conditioning, resume, observer); });
  }
  std::vector<sdk::Image> decode(const GenerationParams& params, const Artifact& latents,
                                 const sdk::TilePlan* tiles) override {
    return guarded("decode", [&] { return inner_->decode(params, latents, tiles); });
  }
  void save_artifact(const Artifact& artifact, const std::string& path) const override {
    guarded("save_artifact", [&] { inner_->save_artifact(artifact, path); });
  }
  ArtifactPtr load_artifact(const std::string& path) const override {
    return guarded("load_artifact", [&] { return inner_->load_artifact(path); });
  }

  // An older backend's vtable has no slot for it: calling would jump into whatever follows.
  std::vector<std::string> samplers() const override {
    if (!has_abi_minor(sdk::kAbiMinorBackendSamplers)) return {};
    return guarded("samplers", [&] { return inner_->samplers(); });
  }
  void set_stop_observer(sdk::StepObserver* observer) override {
    if (!has_abi_minor(sdk::kAbiMinorBackendStopObserver)) return;
    guarded("set_stop_observer", [&] { inner_->set_stop_observer(observer); });
  }

 private:
  std::shared_ptr<sdk::ModelBackend> inner_;
};

}  // namespace

std::shared_ptr<sdk::ModelBackend> guard(std::shared_ptr<sdk::ModelBackend> object, const PluginInfo& info) {
  if (!object || plugin_info_of(*object)) return object;
  return std::make_shared<GuardedBackend>(std::move(object), info);
}

}  // namespace ftdr::framework
