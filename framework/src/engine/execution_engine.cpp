#include "ftdr/framework/engine/execution_engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "ftdr/framework/jobs/request_validation.hpp"
#include "job_folder.hpp"
#include "step_watch.hpp"

namespace ftdr::framework {
namespace {

// The components a phase runs: the UNet, the VAE, or every text encoder ("text_encoder" and, for
// SDXL, "text_encoder_2").
std::vector<std::string> phase_components(sdk::Phase phase,
                                          const std::vector<sdk::ComponentInfo>& components) {
  if (phase == sdk::Phase::diffusion) return {"unet"};
  if (phase != sdk::Phase::encoding) return {"vae"};
  std::vector<std::string> out{"text_encoder"};
  for (const auto& c : components)
    if (c.name.rfind("text_encoder_", 0) == 0) out.push_back(c.name);
  return out;
}

using sdk::Error;
using sdk::ErrorKind;
using sdk::Phase;

void check_cancel(const Job& job) {
  if (job.cancel_requested()) {
    throw Error(ErrorKind::cancelled, "job " + std::to_string(job.id()) + " cancelled by request");
  }
}

sdk::MemoryStats stats_or_empty(const sdk::ModelBackend& backend) noexcept {
  try {
    return backend.memory_stats();
  } catch (...) {
    return {};
  }
}

// Runs one phase's work, recording its wall time and memory before/after (peak reset first),
// also when it throws. `fn(record)` returns the placement reason; `learn(record)` sees the record of
// a phase that finished, before it is stored.
template <typename Fn, typename Learn>
void recorded(Job& job, sdk::ModelBackend& backend, Phase phase, Fn&& fn, Learn&& learn) {
  JobWork& w = job.work();
  PhaseRecord r;
  r.attempt = w.attempt();
  r.phase = phase;
  r.first_image = w.current_first_image();
  r.before = stats_or_empty(backend);
  const auto t0 = std::chrono::steady_clock::now();
  auto close = [&] {
    r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    r.after = stats_or_empty(backend);
  };
  try {
    backend.reset_peak_memory();
    r.placement_reason = fn(r);
  } catch (...) {
    close();
    job.record_phase(r);
    throw;
  }
  close();
  learn(r);
  job.record_phase(r);
}

}  // namespace

ExecutionEngine::ExecutionEngine(EnginePlugins plugins, EngineConfig config)
    : plugins_(std::move(plugins)), config_(std::move(config)) {
  if (!plugins_.backend) throw Error(ErrorKind::invalid_request, "ExecutionEngine: no model backend given");
  if (config_.checkpoint_every < 0) {
    throw Error(ErrorKind::invalid_request, "engine checkpoint_every: expected an integer >= 0, got " +
                                                std::to_string(config_.checkpoint_every));
  }
  if (config_.step_timeout_ms < 0) {
    throw Error(ErrorKind::invalid_request, "engine step_timeout_ms: expected a number >= 0");
  }
  if (config_.max_attempts < 1) {
    throw Error(ErrorKind::invalid_request,
                "engine max_attempts: expected an integer >= 1, got " + std::to_string(config_.max_attempts));
  }
  info_ = plugins_.backend->info();  // through the guard: fields the backend's ABI lacks are defaults
  samplers_ = plugins_.backend->samplers();
  // Jobs compute at the model's dtype until recovery widens a phase to f32 (RuntimeOptions::dtype).
  config_.options.dtype = info_.dtype;
  if (config_.calibrate_memory) {
    const std::string file =
        config_.state_dir.empty()
            ? std::string()
            : (std::filesystem::path(config_.state_dir) / "memory_calibration.json").string();
    calibration_ = std::make_unique<MemoryCalibration>(file, config_.calibration);
  }
}

AttemptOutcome ExecutionEngine::run_attempt(Job& job) {
  std::lock_guard<std::mutex> lock(run_mutex_);
  JobWork& w = job.work();
  w.start(initial_params(job.request(), config_.options));
  w.begin_attempt();
  job.count_attempt();
  try {
    run_phases(job);
    return finish(job, ExecutionState::completed, std::nullopt, "");
  } catch (...) {
    return handle_failure(job, std::current_exception());
  }
}

void ExecutionEngine::run_phases(Job& job) {
  const JobWork& w = job.work();
  run_initializing(job);
  while (!w.done()) {
    if (!w.latents_complete()) {
      if (!w.conditioning()) {
        check_cancel(job);
        run_encoding(job);
      }
      check_cancel(job);
      run_diffusion(job);
    }
    check_cancel(job);
    run_decoding(job);
  }
}

void ExecutionEngine::run_initializing(Job& job) {
  job.transition(ExecutionState::initializing);
  job.work().enter_phase(Phase::initializing);
  recorded(
      job, *plugins_.backend, Phase::initializing,
      [&](PhaseRecord&) {
        for (const sdk::GenerationParams& p : job.work().sub_batches()) plugins_.backend->validate(p);
        return std::string();
      },
      [](PhaseRecord&) {});
}

// The frame every phase shares: the state transition, the placement before the work, the phase
// record (time, memory) around it and the memory calibration after it.
void ExecutionEngine::run_phase(Job& job, ExecutionState state, Phase phase,
                                const std::function<void(const sdk::GenerationParams&)>& work) {
  job.transition(state);
  JobWork& w = job.work();
  w.enter_phase(phase);
  recorded(
      job, *plugins_.backend, phase,
      [&](PhaseRecord& record) {
        sdk::GenerationParams p = w.current();
        std::string reason = place_for(job, phase, p, record);
        w.ran_with(p);
        work(p);  // may finish the front sub-batch (decoding)
        return reason;
      },
      [&](PhaseRecord& record) { learn_memory(record); });
}

void ExecutionEngine::run_encoding(Job& job) {
  JobWork& w = job.work();
  run_phase(job, ExecutionState::encoding_prompt, Phase::encoding, [&](const sdk::GenerationParams& p) {
    detail::PhaseStop stop(job, *plugins_.backend, "encoding");
    sdk::ArtifactPtr conditioning = plugins_.backend->encode(p);
    if (!conditioning) throw Error(ErrorKind::plugin_error, "backend encode() returned no conditioning");
    w.set_conditioning(std::move(conditioning), p);
  });
}

void ExecutionEngine::run_diffusion(Job& job) {
  JobWork& w = job.work();
  run_phase(job, ExecutionState::diffusion_running, Phase::diffusion, [&](const sdk::GenerationParams& p) {
    const bool from_file = load_newer_checkpoint(job);
    const int resumed_at = w.latents() ? w.latents()->steps_done() : 0;
    try {
      denoise(job, p);
    } catch (const Error& e) {
      // A checkpoint read back from a file is not trusted: the backend refuses one made for another
      // request or model (invalid_request before any step), and the sub-batch starts afresh.
      if (!from_file || e.kind() != ErrorKind::invalid_request || w.cursor().step != resumed_at) throw;
      spdlog::warn("job {}: checkpoint {} refused ({}); starting diffusion afresh", job.id(),
                   w.checkpoint_path(), e.what());
      w.drop_latents();
      denoise(job, p);
    }
  });
}

// Loads the newest checkpoint when it is ahead of the latents in memory; true when it did. One that
// cannot be read is dropped (diffusion then starts afresh).
std::string ExecutionEngine::job_folder(JobId id) const {
  if (config_.state_dir.empty()) return "";
  return (std::filesystem::path(config_.state_dir) / "jobs" / std::to_string(id)).string();
}

void ExecutionEngine::adopt_job_folder(Job& job, const std::string& dir) {
  if (!config_.state_dir.empty()) detail::adopt_job_folder(job.work(), dir);
}

bool ExecutionEngine::load_newer_checkpoint(Job& job) {
  JobWork& w = job.work();
  if (w.checkpoint_path().empty() || w.checkpoint_steps() <= w.latents_steps()) return false;
  try {
    w.set_latents(plugins_.backend->load_artifact(w.checkpoint_path()));
    return true;
  } catch (const std::exception& e) {
    spdlog::warn("job {}: cannot load checkpoint {} ({}); starting diffusion afresh", job.id(),
                 w.checkpoint_path(), e.what());
    w.drop_latents();
    return false;
  }
}

// Denoises the front sub-batch from the latents held (or fresh noise), checkpointing on the way.
void ExecutionEngine::denoise(Job& job, const sdk::GenerationParams& p) {
  JobWork& w = job.work();
  w.at_step(w.latents() ? w.latents()->steps_done() : 0);
  if (w.cursor().step > 0) spdlog::info("job {}: resuming diffusion at step {}", job.id(), w.cursor().step);
  detail::StepWatch watch(job, *plugins_.backend, config_, config_.state_dir);
  sdk::ArtifactPtr out = plugins_.backend->denoise(p, *w.conditioning(), w.latents(), watch);
  if (!out) throw Error(ErrorKind::plugin_error, "backend denoise() returned no latents");
  w.complete_latents(std::move(out));
  watch.save_final(*w.latents());
}

// The complete latents from their checkpoint; false (dropped, logged) when it cannot be read.
bool ExecutionEngine::load_final_checkpoint(Job& job) {
  JobWork& w = job.work();
  try {
    w.set_latents(plugins_.backend->load_artifact(w.checkpoint_path()));
    return true;
  } catch (const std::exception& e) {
    spdlog::warn("job {}: cannot load checkpoint {} ({}); running the sub-batch again", job.id(),
                 w.checkpoint_path(), e.what());
    w.drop_latents();
    return false;
  }
}

void ExecutionEngine::run_decoding(Job& job) {
  JobWork& w = job.work();
  run_phase(job, ExecutionState::decoding, Phase::decoding, [&](const sdk::GenerationParams& p) {
    // Latents only on disk (a device loss dropped the memory): a file is not trusted until the
    // backend accepts it; a refused one is dropped and the loop runs the sub-batch again.
    const bool from_file = !w.latents();
    if (from_file && !load_final_checkpoint(job)) return;
    std::optional<sdk::TilePlan> plan = tile_plan(job, p);
    detail::PhaseStop stop(job, *plugins_.backend, "decoding");
    std::vector<sdk::Image> images;
    try {
      images = plugins_.backend->decode(p, *w.latents(), plan ? &*plan : nullptr);
    } catch (const Error& e) {
      if (!from_file || e.kind() != ErrorKind::invalid_request) throw;
      spdlog::warn("job {}: checkpoint {} refused ({}); running the sub-batch again", job.id(),
                   w.checkpoint_path(), e.what());
      w.drop_latents();
      return;
    }
    if (static_cast<int>(images.size()) != p.batch) {
      throw Error(ErrorKind::plugin_error, "backend decode() returned " + std::to_string(images.size()) +
                                               " images for a sub-batch of " + std::to_string(p.batch));
    }
    std::vector<std::string> written;
    if (config_.image_sink) written = config_.image_sink(job, p, images);
    w.finish_sub_batch(std::move(images), std::move(written));
  });
}

// The tiling strategy's plan when the sub-batch decodes with VAE tiling; none otherwise.
std::optional<sdk::TilePlan> ExecutionEngine::tile_plan(const Job& job, const sdk::GenerationParams& p) {
  if (p.options.vae_tiling && plugins_.tiling) {
    sdk::TileRequest tr;
    tr.scale = info_.vae_scale_factor;
    tr.latent_height = p.height / tr.scale;
    tr.latent_width = p.width / tr.scale;
    tr.memory_hint_bytes =
        config_.budget_bytes ? config_.budget_bytes : stats_or_empty(*plugins_.backend).free_bytes;
    return plugins_.tiling->plan(tr);
  }
  if (p.options.vae_tiling) {
    spdlog::warn("job {}: VAE tiling asked for but no tiling strategy is configured; decoding whole",
                 job.id());
  }
  return std::nullopt;
}

namespace {

// What a placement switched on, compared with the options it was asked with.
std::string memory_saving(const sdk::RuntimeOptions& asked, const sdk::RuntimeOptions& placed) {
  std::string on;
  if (placed.attention == sdk::AttentionMode::sliced && asked.attention != sdk::AttentionMode::sliced) {
    on = "attention slicing";
  }
  if (placed.vae_tiling && !asked.vae_tiling) on += on.empty() ? "VAE tiling" : ", VAE tiling";
  return on;
}

std::string mib(std::uint64_t bytes) { return std::to_string((bytes + (1u << 19)) >> 20) + " MiB"; }

bool same_memory_options(const sdk::RuntimeOptions& a, const sdk::RuntimeOptions& b) {
  return a.attention == b.attention && a.attention_slice_size == b.attention_slice_size &&
         a.vae_tiling == b.vae_tiling && a.upcast_vae == b.upcast_vae && a.dtype == b.dtype;
}

}  // namespace

// Calibrated estimates → the policy → moves; records the decision and the baseline the phase's
// activation peak is measured from (memory_calibration.hpp).
std::string ExecutionEngine::place_for(const Job& job, Phase phase, sdk::GenerationParams& params,
                                       PhaseRecord& record) {
  sdk::ModelBackend& b = *plugins_.backend;
  const sdk::Device device = b.device();
  const sdk::RuntimeOptions asked = params.options;
  auto ratio_for = [&](const sdk::RuntimeOptions& o) {
    return calibration_ ? calibration_->ratio(calibration_key(info_.name, phase, o, device)) : 1.0;
  };
  auto scaled = [](std::uint64_t bytes, double ratio) {
    return static_cast<std::uint64_t>(std::llround(static_cast<double>(bytes) * ratio));
  };
  record.estimate_bytes = b.estimate_activation_bytes(phase, params);
  record.calibration_ratio = ratio_for(asked);
  record.calibrated_estimate_bytes = scaled(record.estimate_bytes, record.calibration_ratio);
  record.budget_bytes = config_.budget_bytes;
  std::string reason;
  if (plugins_.memory_policy) reason = run_policy(phase, params, record);
  record.memory_saving = memory_saving(asked, params.options);
  record.ran_estimate_bytes = same_memory_options(asked, params.options)
                                  ? record.estimate_bytes
                                  : b.estimate_activation_bytes(phase, params);
  record.calibration_key = calibration_key(info_.name, phase, params.options, device).str();
  const sdk::MemoryStats now = stats_or_empty(b);
  record.baseline_bytes = now.device == sdk::Device::cuda ? now.allocated_bytes : now.rss_bytes;

  const std::string budget =
      config_.budget_bytes ? mib(config_.budget_bytes) : std::string("device free memory");
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.2f", record.calibration_ratio);
  const std::string line =
      "job " + std::to_string(job.id()) + " " + std::string(sdk::to_string(phase)) +
      ": activation estimate " + mib(record.calibrated_estimate_bytes) + " (backend " +
      mib(record.estimate_bytes) + " x calibration " + ratio + "), budget " + budget + ": " +
      (record.memory_saving.empty() ? "no memory saving switched on" : record.memory_saving + " switched on");
  if (record.memory_saving.empty()) {
    spdlog::debug("{}; {}", line, reason);
  } else {
    spdlog::info("{}; {}", line, reason);
  }
  return reason;
}

// Asks the policy (with calibrated estimates) and carries its placement out; returns its reason.
std::string ExecutionEngine::run_policy(Phase phase, sdk::GenerationParams& params,
                                        const PhaseRecord& record) {
  sdk::ModelBackend& b = *plugins_.backend;
  sdk::PlacementRequest r;
  r.next = phase;
  r.components = b.components();
  r.needed = phase_components(phase, r.components);
  r.memory = b.memory_stats();
  r.budget_bytes = config_.budget_bytes;
  r.options = params.options;
  r.estimated_activation_bytes = record.calibrated_estimate_bytes;
  sdk::GenerationParams sliced = params;
  sliced.options.attention = sdk::AttentionMode::sliced;
  const double sliced_ratio =
      calibration_ ? calibration_->ratio(calibration_key(info_.name, phase, sliced.options, b.device()))
                   : 1.0;
  r.estimated_activation_bytes_sliced = static_cast<std::uint64_t>(
      std::llround(static_cast<double>(b.estimate_activation_bytes(phase, sliced)) * sliced_ratio));
  sdk::Placement placement = plugins_.memory_policy->place(r);
  for (const std::string& needed : r.needed) {
    if (std::find(placement.on_device.begin(), placement.on_device.end(), needed) ==
        placement.on_device.end()) {
      throw Error(ErrorKind::plugin_error, "memory policy left '" + needed + "' off the device for the " +
                                               std::string(sdk::to_string(phase)) + " phase");
    }
  }
  auto location = [&](const std::string& name) {
    for (const auto& c : r.components)
      if (c.name == name) return std::optional<sdk::Device>(c.location);
    return std::optional<sdk::Device>();
  };
  bool moved_off = false;
  for (const std::string& c : placement.on_cpu) {
    if (location(c) != sdk::Device::cpu) {
      b.place(c, sdk::Device::cpu);
      moved_off = true;
    }
  }
  if (moved_off && placement.release_cache) b.release_cached_memory();
  for (const std::string& c : placement.on_device) {
    if (location(c) != b.device()) b.place(c, b.device());
  }
  params.options = placement.options;
  return placement.reason;
}

// Measures the finished phase's activation peak and teaches it to the calibration.
void ExecutionEngine::learn_memory(PhaseRecord& record) {
  const std::uint64_t peak = record.after.peak_bytes;
  record.measured_activation_bytes = peak > record.baseline_bytes ? peak - record.baseline_bytes : 0;
  if (!calibration_ || record.calibration_key.empty()) return;
  calibration_->record(record.calibration_key, record.ran_estimate_bytes, record.measured_activation_bytes);
}

}  // namespace ftdr::framework
