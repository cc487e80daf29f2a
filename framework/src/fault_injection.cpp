// A ModelBackend decorator that fails on purpose (see fault_injection.hpp).
#include "ftdr/framework/fault_injection.hpp"

#include <atomic>

namespace ftdr::framework {
namespace {

using sdk::Phase;

class FaultInjectingBackend final : public sdk::ModelBackend {
 public:
  FaultInjectingBackend(std::shared_ptr<sdk::ModelBackend> inner, FaultsConfig faults)
      : inner_(std::move(inner)), faults_(faults) {}

  void load(const std::string& dir) override { inner_->load(dir); }
  sdk::ModelInfo info() const override { return inner_->info(); }
  std::vector<std::string> diagnostics() const override {
    auto lines = inner_->diagnostics();
    lines.push_back("fault injection: " + std::string(sdk::to_string(faults_.kind)) + " in " +
                    std::string(sdk::to_string(faults_.phase)) + " for the first " + std::to_string(faults_.attempts) +
                    " attempt(s)");
    return lines;
  }
  std::vector<sdk::ComponentInfo> components() const override { return inner_->components(); }
  void place(const std::string& c, sdk::Device where) override { inner_->place(c, where); }
  sdk::Device device() const override { return inner_->device(); }
  sdk::MemoryStats memory_stats() const override { return inner_->memory_stats(); }
  void reset_peak_memory() override { inner_->reset_peak_memory(); }
  void release_cached_memory() override { inner_->release_cached_memory(); }
  std::uint64_t estimate_activation_bytes(Phase phase, const sdk::GenerationParams& p) const override {
    return inner_->estimate_activation_bytes(phase, p);
  }
  void validate(const sdk::GenerationParams& p) const override {
    maybe_fail(Phase::initializing, 0);
    inner_->validate(p);
  }
  sdk::ArtifactPtr encode(const sdk::GenerationParams& p) override {
    maybe_fail(Phase::encoding, 0);
    return inner_->encode(p);
  }
  sdk::ArtifactPtr denoise(const sdk::GenerationParams& p, const sdk::Artifact& cond, const sdk::Artifact* resume,
                           sdk::StepObserver& observer) override {
    struct Observer final : sdk::StepObserver {
      const FaultInjectingBackend* self;
      sdk::StepObserver* inner;
      void on_step(const sdk::StepEvent& e) override {
        inner->on_step(e);
        if (e.step == self->faults_.at_step) self->maybe_fail(Phase::diffusion, e.step);
      }
    } wrapped;
    wrapped.self = this;
    wrapped.inner = &observer;
    return inner_->denoise(p, cond, resume, wrapped);
  }
  std::vector<sdk::Image> decode(const sdk::GenerationParams& p, const sdk::Artifact& latents,
                                 const sdk::TilePlan* tiles) override {
    maybe_fail(Phase::decoding, 0);
    return inner_->decode(p, latents, tiles);
  }
  void save_artifact(const sdk::Artifact& a, const std::string& path) const override { inner_->save_artifact(a, path); }
  sdk::ArtifactPtr load_artifact(const std::string& path) const override { return inner_->load_artifact(path); }

 private:
  void maybe_fail(Phase phase, int step) const {
    if (phase != faults_.phase) return;
    if (injected_.fetch_add(1) >= faults_.attempts) return;
    std::string where = std::string(sdk::to_string(phase)) + (step ? " after step " + std::to_string(step) : "");
    throw sdk::Error(faults_.kind, "injected fault ([faults] enabled): " + std::string(sdk::to_string(faults_.kind)) +
                                       " in " + where);
  }

  std::shared_ptr<sdk::ModelBackend> inner_;
  FaultsConfig faults_;
  mutable std::atomic<int> injected_{0};
};

}  // namespace

std::shared_ptr<sdk::ModelBackend> inject_faults(std::shared_ptr<sdk::ModelBackend> backend,
                                                 const FaultsConfig& faults) {
  return std::make_shared<FaultInjectingBackend>(std::move(backend), faults);
}

}  // namespace ftdr::framework
