// tests/framework/scripted_backend.hpp: a ModelBackend double with zero work and scripted faults,
// for engine, job manager and scheduler tests and the job manager benchmark. Not shipped.
//
//   ScriptedBackend b;
//   b.fail_next(sdk::Phase::diffusion, sdk::ErrorKind::out_of_memory, /*at_step*/ 3);
//   b.on_step = [](int step) { ... };   // runs inside denoise before the observer (latches, cancels)
//   b.refuse_loaded = true;             // denoise/decode refuse artifacts read back by load_artifact
//                                       // (invalid_request), as a real backend refuses a checkpoint
//                                       // made for another request
//
// Artifacts are tiny objects; save/load write and read a one-line file, so checkpoints and resume
// go through the real file system. Every call is recorded in calls() as a short string.
#pragma once
#include <cstdint>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/recovery.hpp"

namespace ftdr::test {

class FakeArtifact final : public sdk::Artifact {
 public:
  FakeArtifact(std::string kind, int steps, int first_image, int batch, bool loaded = false)
      : kind_(std::move(kind)), steps_(steps), first_image_(first_image), batch_(batch), loaded_(loaded) {}
  std::string kind() const override { return kind_; }
  std::uint64_t bytes() const override { return 16; }
  int steps_done() const override { return steps_; }
  int first_image() const { return first_image_; }
  int batch() const { return batch_; }
  bool loaded() const { return loaded_; }

 private:
  std::string kind_;
  int steps_, first_image_, batch_;
  bool loaded_;
};

class ScriptedBackend final : public sdk::ModelBackend {
 public:
  enum class How { error, bad_alloc, runtime_error, non_finite, slow_step };
  struct Fault {
    sdk::Phase phase;
    How how = How::error;
    sdk::ErrorKind kind = sdk::ErrorKind::device_error;
    int at_step = 1;  // diffusion: the step whose event carries the fault or after which it throws
  };

  // The next call of `phase` fails (faults of one phase are used in order, once each).
  void fail_next(sdk::Phase phase, sdk::ErrorKind kind, int at_step = 1) {
    std::lock_guard<std::mutex> lock(mutex_);
    faults_.push_back({phase, How::error, kind, at_step});
  }
  void fail_next_how(sdk::Phase phase, How how, int at_step = 1) {
    std::lock_guard<std::mutex> lock(mutex_);
    faults_.push_back({phase, how, sdk::ErrorKind::internal, at_step});
  }
  // Diffusion of a sub-batch larger than this fails with out_of_memory (0 = never).
  int oom_above_batch = 0;
  // Milliseconds reported per step (watchdog tests); no real time passes.
  double step_ms = 0.01;
  std::function<void(int step)> on_step;
  // With mid_step_checks, denoise calls observer.check_stop() inside every step (after on_step, as
  // a real backend does between network blocks), and decode calls the stop observer after
  // on_decode.
  bool mid_step_checks = false;
  std::function<void()> on_decode;
  void set_stop_observer(sdk::StepObserver* observer) override { stop_observer_ = observer; }

  std::vector<std::string> calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  int count(const std::string& prefix) const {
    std::lock_guard<std::mutex> lock(mutex_);
    int n = 0;
    for (const auto& c : calls_) n += c.rfind(prefix, 0) == 0;
    return n;
  }
  void record_calls(bool on) { record_ = on; }
  // The dtype info() reports, and the RuntimeOptions::dtype of the last encode/denoise/decode call.
  sdk::DType model_dtype = sdk::DType::f32;
  sdk::DType last_dtype = sdk::DType::f32;

  void load(const std::string&) override {}
  sdk::ModelInfo info() const override {
    sdk::ModelInfo i;
    i.name = "scripted";
    i.family = "sd1";
    i.default_sampler = "ddim";
    i.prediction_type = "epsilon";
    i.dtype = model_dtype;
    return i;
  }
  std::vector<std::string> diagnostics() const override { return {"device: none (scripted)"}; }
  std::vector<sdk::ComponentInfo> components() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return components_;
  }
  void place(const std::string& component, sdk::Device where) override {
    log("place(" + component + "," + std::string(sdk::to_string(where)) + ")");
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& c : components_)
      if (c.name == component) c.location = where;
  }
  sdk::Device device() const override { return sdk::Device::cuda; }
  // Another component (an SDXL model's "text_encoder_2"), on the CPU.
  void add_component(const std::string& name, std::uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    components_.insert(components_.begin() + 1, sdk::ComponentInfo{name, bytes, sdk::Device::cpu});
  }
  // Reported by memory_stats() as the allocator's peak / current allocation (calibration tests).
  std::uint64_t peak_bytes = 0;
  std::uint64_t allocated_bytes = 0;
  sdk::MemoryStats memory_stats() const override {
    sdk::MemoryStats s;
    s.device = sdk::Device::cuda;
    s.total_bytes = 4ull << 30;
    s.free_bytes = 3ull << 30;
    s.peak_bytes = peak_bytes;
    s.allocated_bytes = allocated_bytes;
    return s;
  }
  void reset_peak_memory() override {}
  void release_cached_memory() override { log("release_cached_memory"); }
  std::uint64_t estimate_activation_bytes(sdk::Phase, const sdk::GenerationParams& p) const override {
    return p.options.attention == sdk::AttentionMode::sliced ? 100 : 1000;
  }
  std::vector<std::string> samplers() const override { return {"euler", "ddim"}; }
  void validate(const sdk::GenerationParams& p) const override {
    if (p.request.prompt == "invalid-for-model") {
      throw sdk::Error(sdk::ErrorKind::invalid_request, "prompt: the scripted model refuses it");
    }
  }

  sdk::ArtifactPtr encode(const sdk::GenerationParams& p) override {
    log("encode");
    last_dtype = p.options.dtype;
    maybe_fail(sdk::Phase::encoding);
    return std::make_shared<FakeArtifact>("conditioning", 0, p.first_image, p.batch);
  }

  sdk::ArtifactPtr denoise(const sdk::GenerationParams& p, const sdk::Artifact&, const sdk::Artifact* resume,
                           sdk::StepObserver& observer) override {
    const int start = resume ? resume->steps_done() : 0;
    log("denoise(first=" + std::to_string(p.first_image) + ",batch=" + std::to_string(p.batch) +
        ",from=" + std::to_string(start) + ")");
    refuse_if_loaded(resume, "denoise");
    if (oom_above_batch > 0 && p.batch > oom_above_batch) {
      throw sdk::Error(sdk::ErrorKind::out_of_memory,
                       "scripted: batch " + std::to_string(p.batch) + " does not fit");
    }
    Fault fault{sdk::Phase::initializing};
    const bool faulty = take_fault(sdk::Phase::diffusion, fault);
    const int total = p.request.steps;
    for (int s = start + 1; s <= total; ++s) {
      if (on_step) on_step(s);
      if (mid_step_checks) observer.check_stop();
      FakeArtifact latents("latents", s, p.first_image, p.batch);
      sdk::StepEvent e;
      e.step = s;
      e.total = total;
      e.step_ms = step_ms;
      e.latents = &latents;
      if (faulty && fault.at_step == s) {
        if (fault.how == How::non_finite) e.finite = false;
        if (fault.how == How::slow_step) e.step_ms = 1e9;
      }
      observer.on_step(e);
      if (faulty && fault.at_step == s) throw_fault(fault);
    }
    return std::make_shared<FakeArtifact>("latents", total, p.first_image, p.batch);
  }

  std::vector<sdk::Image> decode(const sdk::GenerationParams& p, const sdk::Artifact& latents,
                                 const sdk::TilePlan* tiles) override {
    log("decode(first=" + std::to_string(p.first_image) + ",batch=" + std::to_string(p.batch) +
        ",tiles=" + std::to_string(tiles ? tiles->tiles.size() : 0) + ")");
    refuse_if_loaded(&latents, "decode");
    maybe_fail(sdk::Phase::decoding);
    if (on_decode) on_decode();
    if (mid_step_checks && stop_observer_) stop_observer_->check_stop();
    std::vector<sdk::Image> out;
    for (int i = 0; i < p.batch; ++i) {
      sdk::Image img;
      img.width = 1;
      img.height = 1;
      img.rgb = {static_cast<std::uint8_t>(p.first_image + i), static_cast<std::uint8_t>(p.width / 8), 0};
      out.push_back(img);
    }
    return out;
  }

  void save_artifact(const sdk::Artifact& a, const std::string& path) const override {
    log("save(" + std::to_string(a.steps_done()) + ")");
    std::ofstream f(path);
    const auto* fa = dynamic_cast<const FakeArtifact*>(&a);
    f << a.kind() << " " << a.steps_done() << " " << (fa ? fa->first_image() : 0) << " "
      << (fa ? fa->batch() : 0);
    if (!f) throw sdk::Error(sdk::ErrorKind::internal, "cannot write " + path);
  }
  sdk::ArtifactPtr load_artifact(const std::string& path) const override {
    std::ifstream f(path);
    std::string kind;
    int steps = 0, first = 0, batch = 0;
    if (!(f >> kind >> steps >> first >> batch))
      throw sdk::Error(sdk::ErrorKind::model_error, "cannot read " + path);
    log("load(" + std::to_string(steps) + ")");
    return std::make_shared<FakeArtifact>(kind, steps, first, batch, /*loaded*/ true);
  }

  bool refuse_loaded = false;

 private:
  void refuse_if_loaded(const sdk::Artifact* a, const char* phase) const {
    const auto* fa = dynamic_cast<const FakeArtifact*>(a);
    if (refuse_loaded && fa && fa->loaded()) {
      throw sdk::Error(sdk::ErrorKind::invalid_request,
                       std::string(phase) + ": scripted: the checkpoint was made for another request");
    }
  }
  void log(const std::string& call) const {
    if (!record_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.push_back(call);
  }
  bool take_fault(sdk::Phase phase, Fault& out) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (it->phase == phase) {
        out = *it;
        faults_.erase(it);
        return true;
      }
    }
    return false;
  }
  void maybe_fail(sdk::Phase phase) {
    Fault f{phase};
    if (take_fault(phase, f)) throw_fault(f);
  }
  [[noreturn]] static void throw_fault(const Fault& f) {
    switch (f.how) {
      case How::bad_alloc: throw std::bad_alloc();
      case How::runtime_error: throw std::runtime_error("scripted runtime_error");
      default: break;
    }
    throw sdk::Error(f.kind, "scripted " + std::string(sdk::to_string(f.kind)) + " in " +
                                 std::string(sdk::to_string(f.phase)));
  }

  mutable std::mutex mutex_;
  sdk::StepObserver* stop_observer_ = nullptr;
  mutable std::vector<std::string> calls_;
  std::deque<Fault> faults_;
  bool record_ = true;
  std::vector<sdk::ComponentInfo> components_{{"text_encoder", 100, sdk::Device::cpu},
                                              {"unet", 1000, sdk::Device::cpu},
                                              {"vae", 50, sdk::Device::cpu}};
};

// A recovery strategy that retries every failure `retries` times, resuming at the failed phase
// (or `resume`), with `delay_ms`; `split` asks for split batches; `degrade_width` lowers the width.
class ScriptedRecovery final : public sdk::RecoveryStrategy {
 public:
  int retries = 3;
  std::int64_t delay_ms = 0;
  bool split = false;
  bool use_resume = false;
  sdk::Phase resume = sdk::Phase::initializing;
  int degrade_width = 0;
  int shrink_batch_to = 0;  // > 0: set params.batch to this without split_batch
  std::vector<sdk::Failure> seen;
  std::vector<std::size_t> history_sizes;

  sdk::RecoveryDecision decide(const sdk::Failure& f, const std::vector<sdk::Attempt>& h,
                               const sdk::GenerationParams& current) override {
    seen.push_back(f);
    history_sizes.push_back(h.size());
    sdk::RecoveryDecision d;
    d.params = current;
    d.retry = static_cast<int>(h.size()) < retries;
    d.resume_phase = use_resume ? resume : f.phase;
    d.delay_ms = delay_ms;
    d.split_batch = split;
    if (degrade_width > 0) {
      d.params.width = degrade_width;
      d.degraded = true;
    }
    if (shrink_batch_to > 0) d.params.batch = shrink_batch_to;
    d.change = split ? "split batch" : "retry as is";
    d.reason = "scripted: no retries left";
    return d;
  }
};

}  // namespace ftdr::test
