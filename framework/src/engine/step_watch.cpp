#include "step_watch.hpp"

#include <chrono>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "job_folder.hpp"

namespace ftdr::framework::detail {

using sdk::Error;
using sdk::ErrorKind;

StepWatch::StepWatch(Job& job, const sdk::ModelBackend& backend, const EngineConfig& config,
                     std::string state_dir)
    : job_(job), backend_(backend), config_(config), state_dir_(std::move(state_dir)) {}

void StepWatch::on_step(const sdk::StepEvent& e) {
  job_.work().at_step(e.step);
  job_.set_progress(e.step, e.total);
  const std::string where = "job " + std::to_string(job_.id()) + ", diffusion step " +
                            std::to_string(e.step) + "/" + std::to_string(e.total);
  if (job_.cancel_requested()) throw Error(ErrorKind::cancelled, where + ": cancelled by request");
  if (config_.health_checks && !e.finite) {
    throw Error(ErrorKind::numerical_error, where + ": latents contain NaN or Inf");
  }
  if (config_.step_timeout_ms > 0 && e.step_ms > config_.step_timeout_ms) {
    throw Error(ErrorKind::timeout, fmt::format("{} took {:.1f} ms, over the step watchdog of {:.1f} ms "
                                                "(step_timeout_ms)",
                                                where, e.step_ms, config_.step_timeout_ms));
  }
  if (config_.checkpoint_every > 0 && !state_dir_.empty() && e.latents && e.step < e.total &&
      e.step % config_.checkpoint_every == 0) {
    save(*e.latents, e.step);
  }
  step_start_ = std::chrono::steady_clock::now();  // the next step's watchdog starts after the save
}

void StepWatch::check_stop() {
  const std::string where = "job " + std::to_string(job_.id()) + ", during diffusion step " +
                            std::to_string(job_.work().cursor().step + 1);
  if (job_.cancel_requested()) throw Error(ErrorKind::cancelled, where + ": cancelled by request");
  if (config_.step_timeout_ms <= 0) return;
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - step_start_).count();
  if (ms > config_.step_timeout_ms) {
    throw Error(ErrorKind::timeout,
                fmt::format("{}: running for {:.1f} ms, over the step watchdog of {:.1f} ms "
                            "(step_timeout_ms)",
                            where, ms, config_.step_timeout_ms));
  }
}

void StepWatch::save_final(const sdk::Artifact& latents) {
  if (config_.checkpoint_every > 0 && !state_dir_.empty()) save(latents, latents.steps_done());
}

void StepWatch::save(const sdk::Artifact& latents, int step) {
  const std::string dir = claim_job_folder(job_, state_dir_);
  if (dir.empty()) return;
  JobWork& w = job_.work();
  const int first = w.current_first_image();
  const std::string path = (std::filesystem::path(dir) /
                            ("latents_i" + std::to_string(first) + "_step" + std::to_string(step) + ".ckpt"))
                               .string();
  try {
    backend_.save_artifact(latents, path);
  } catch (const std::exception& e) {
    spdlog::warn("job {}: checkpoint {} not written ({}); going on without it", job_.id(), path, e.what());
    return;
  }
  w.record_checkpoint(path, step);
  spdlog::debug("job {}: checkpoint {} at step {}", job_.id(), path, step);
}

PhaseStop::PhaseStop(Job& job, sdk::ModelBackend& backend, std::string phase)
    : job_(job), backend_(backend), phase_(std::move(phase)) {
  backend_.set_stop_observer(this);
}

PhaseStop::~PhaseStop() {
  try {
    backend_.set_stop_observer(nullptr);
  } catch (const std::exception& e) {  // a guarded plugin_error; nothing to undo in a destructor
    spdlog::warn("job {}: clearing the stop observer: {}", job_.id(), e.what());
  }
}

void PhaseStop::check_stop() {
  if (job_.cancel_requested()) {
    throw Error(ErrorKind::cancelled,
                "job " + std::to_string(job_.id()) + ", during " + phase_ + ": cancelled by request");
  }
}

}  // namespace ftdr::framework::detail
