#include "ftdr/framework/execution_engine.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "engine_recovery.hpp"
#include "ftdr/framework/request_validation.hpp"
#include "step_watch.hpp"

namespace ftdr::framework {
namespace {

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
// also when it throws. `fn` returns the placement reason.
template <typename Fn>
void recorded(Job& job, sdk::ModelBackend& backend, Phase phase, Fn&& fn) {
  JobWork& w = job.work();
  PhaseRecord r;
  r.attempt = w.attempt;
  r.phase = phase;
  r.first_image = w.segments.empty() ? 0 : w.segments.front().first_image;
  r.before = stats_or_empty(backend);
  const auto t0 = std::chrono::steady_clock::now();
  auto close = [&] {
    r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    r.after = stats_or_empty(backend);
    w.phases.push_back(r);
  };
  try {
    backend.reset_peak_memory();
    r.placement_reason = fn();
  } catch (...) {
    close();
    throw;
  }
  close();
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
    throw Error(ErrorKind::invalid_request, "engine max_attempts: expected an integer >= 1, got " +
                                                std::to_string(config_.max_attempts));
  }
  info_ = plugins_.backend->info();
}

std::string ExecutionEngine::job_dir(const Job& job) const {
  if (config_.state_dir.empty()) return {};
  return (std::filesystem::path(config_.state_dir) / std::to_string(job.id())).string();
}

AttemptOutcome ExecutionEngine::run_attempt(Job& job) {
  std::lock_guard<std::mutex> lock(run_mutex_);
  JobWork& w = job.work();
  if (w.segments.empty() && w.images.empty()) {
    w.segments.push_back(initial_params(job.request(), config_.options));
    w.last_params = w.segments.front();
  }
  job.count_attempt();
  Attempt a;
  try {
    run_phases(job, a);
    return finish(job, ExecutionState::completed, std::nullopt, "");
  } catch (...) {
    return handle_failure(job, a, std::current_exception());
  }
}

void ExecutionEngine::run_phases(Job& job, Attempt& a) {
  JobWork& w = job.work();
  run_initializing(job, a);
  while (!w.segments.empty()) {
    if (!w.latents_complete) {
      if (!w.conditioning) {
        check_cancel(job);
        run_encoding(job, a);
      }
      check_cancel(job);
      run_diffusion(job, a);
    }
    check_cancel(job);
    run_decoding(job, a);
  }
}

void ExecutionEngine::run_initializing(Job& job, Attempt& a) {
  job.transition(ExecutionState::initializing);
  a.phase = Phase::initializing;
  recorded(job, *plugins_.backend, a.phase, [&] {
    for (const sdk::GenerationParams& p : job.work().segments) plugins_.backend->validate(p);
    return std::string();
  });
}

void ExecutionEngine::run_encoding(Job& job, Attempt& a) {
  job.transition(ExecutionState::encoding_prompt);
  a.phase = Phase::encoding;
  JobWork& w = job.work();
  recorded(job, *plugins_.backend, a.phase, [&] {
    sdk::GenerationParams& p = w.segments.front();
    std::string reason = place_for(a.phase, p);
    w.last_params = p;
    w.conditioning = plugins_.backend->encode(p);
    if (!w.conditioning) throw Error(ErrorKind::plugin_error, "backend encode() returned no conditioning");
    w.conditioning_params = p;
    return reason;
  });
}

void ExecutionEngine::run_diffusion(Job& job, Attempt& a) {
  job.transition(ExecutionState::diffusion_running);
  a.phase = Phase::diffusion;
  JobWork& w = job.work();
  recorded(job, *plugins_.backend, a.phase, [&] {
    sdk::GenerationParams& p = w.segments.front();
    std::string reason = place_for(a.phase, p);
    w.last_params = p;
    const int in_memory = w.latents ? w.latents->steps_done() : -1;
    if (!w.checkpoint_path.empty() && w.checkpoint_steps > in_memory) {
      try {
        w.latents = plugins_.backend->load_artifact(w.checkpoint_path);
      } catch (const std::exception& e) {
        spdlog::warn("job {}: cannot load checkpoint {} ({}); starting diffusion afresh", job.id(),
                     w.checkpoint_path, e.what());
        detail::drop_latents(w);
      }
    }
    a.step = w.latents ? w.latents->steps_done() : 0;
    if (a.step > 0) spdlog::info("job {}: resuming diffusion at step {}", job.id(), a.step);
    detail::StepWatch watch(job, a.step, *plugins_.backend, config_, job_dir(job));
    sdk::ArtifactPtr out = plugins_.backend->denoise(p, *w.conditioning, w.latents.get(), watch);
    if (!out) throw Error(ErrorKind::plugin_error, "backend denoise() returned no latents");
    w.latents = std::move(out);
    w.latents_complete = true;
    watch.save_final(*w.latents);
    return reason;
  });
}

void ExecutionEngine::run_decoding(Job& job, Attempt& a) {
  job.transition(ExecutionState::decoding);
  a.phase = Phase::decoding;
  JobWork& w = job.work();
  recorded(job, *plugins_.backend, a.phase, [&] {
    sdk::GenerationParams& p = w.segments.front();
    std::string reason = place_for(a.phase, p);
    w.last_params = p;
    if (!w.latents) w.latents = plugins_.backend->load_artifact(w.checkpoint_path);  // final checkpoint
    std::optional<sdk::TilePlan> plan;
    if (p.options.vae_tiling && plugins_.tiling) {
      sdk::TileRequest tr;
      tr.scale = info_.vae_scale_factor;
      tr.latent_height = p.height / tr.scale;
      tr.latent_width = p.width / tr.scale;
      tr.memory_hint_bytes = config_.budget_bytes ? config_.budget_bytes : stats_or_empty(*plugins_.backend).free_bytes;
      plan = plugins_.tiling->plan(tr);
    } else if (p.options.vae_tiling) {
      spdlog::warn("job {}: VAE tiling asked for but no tiling strategy is configured; decoding whole",
                   job.id());
    }
    std::vector<sdk::Image> images = plugins_.backend->decode(p, *w.latents, plan ? &*plan : nullptr);
    if (static_cast<int>(images.size()) != p.batch) {
      throw Error(ErrorKind::plugin_error, "backend decode() returned " + std::to_string(images.size()) +
                                               " images for a sub-batch of " + std::to_string(p.batch));
    }
    if (config_.image_sink) w.written[p.first_image] = config_.image_sink(job, p, images);
    w.images[p.first_image] = std::move(images);
    detail::drop_latents(w);
    w.segments.erase(w.segments.begin());
    return reason;
  });
}

std::string ExecutionEngine::place_for(Phase phase, sdk::GenerationParams& params) {
  if (!plugins_.memory_policy) return {};
  sdk::ModelBackend& b = *plugins_.backend;
  sdk::PlacementRequest r;
  r.next = phase;
  r.needed = {phase == Phase::encoding ? "text_encoder" : phase == Phase::diffusion ? "unet" : "vae"};
  r.components = b.components();
  r.memory = b.memory_stats();
  r.budget_bytes = config_.budget_bytes;
  r.options = params.options;
  r.estimated_activation_bytes = b.estimate_activation_bytes(phase, params);
  sdk::GenerationParams sliced = params;
  sliced.options.attention = sdk::AttentionMode::sliced;
  r.estimated_activation_bytes_sliced = b.estimate_activation_bytes(phase, sliced);
  sdk::Placement placement = plugins_.memory_policy->place(r);
  for (const std::string& needed : r.needed) {
    if (std::find(placement.on_device.begin(), placement.on_device.end(), needed) == placement.on_device.end()) {
      throw Error(ErrorKind::plugin_error, "memory policy left '" + needed + "' off the device for the " +
                                               std::string(sdk::to_string(phase)) + " phase");
    }
  }
  auto location = [&](const std::string& name) {
    for (const auto& c : r.components) if (c.name == name) return std::optional<sdk::Device>(c.location);
    return std::optional<sdk::Device>();
  };
  bool moved_off = false;
  for (const std::string& c : placement.on_cpu) {
    if (location(c) != sdk::Device::cpu) { b.place(c, sdk::Device::cpu); moved_off = true; }
  }
  if (moved_off && placement.release_cache) b.release_cached_memory();
  for (const std::string& c : placement.on_device) {
    if (location(c) != b.device()) b.place(c, b.device());
  }
  params.options = placement.options;
  spdlog::debug("placement for {}: {}", sdk::to_string(phase), placement.reason);
  return placement.reason;
}

}  // namespace ftdr::framework
