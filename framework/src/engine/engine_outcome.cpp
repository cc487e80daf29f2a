// ExecutionEngine: how an attempt ends (failure handling, recovery, terminal results).
#include <spdlog/spdlog.h>

#include "engine_recovery.hpp"
#include "ftdr/framework/engine/execution_engine.hpp"
#include "ftdr/framework/jobs/request_validation.hpp"
#include "job_folder.hpp"

namespace ftdr::framework {

using sdk::ErrorKind;

AttemptOutcome ExecutionEngine::handle_failure(Job& job, Attempt& a, std::exception_ptr error) {
  JobWork& w = job.work();
  sdk::Failure f = detail::classify_failure(error, a.phase, a.step);
  const ExecutionState now = job.state();
  if (is_terminal(now)) {  // only a bug gets here (a transition out of a terminal state)
    spdlog::error("job {}: failure after reaching {}: {}", job.id(), to_string(now), f.message);
    return AttemptOutcome{now, 0, std::nullopt};
  }
  if (f.kind == ErrorKind::cancelled || job.cancel_requested()) {
    return finish(job, ExecutionState::cancelled, ErrorKind::cancelled,
                  f.kind == ErrorKind::cancelled ? f.message : "cancelled by request");
  }
  spdlog::warn("job {} attempt {} failed in {} (step {}): {}: {}", job.id(), w.attempt,
               sdk::to_string(f.phase), f.step, sdk::to_string(f.kind), f.message);

  sdk::RecoveryDecision d;
  std::string why_not;
  if (detail::never_retried(f.kind)) {
    why_not = std::string(sdk::to_string(f.kind)) + " is never retried";
  } else if (!plugins_.recovery) {
    why_not = "no recovery strategy configured";
  } else if (w.attempt >= config_.max_attempts) {
    why_not = "reached the engine's max_attempts (" + std::to_string(config_.max_attempts) + ")";
  } else {
    const sdk::GenerationParams current = w.segments.empty() ? w.last_params : w.segments.front();
    try {
      d = plugins_.recovery->decide(f, w.attempts, current);
      if (!d.retry) why_not = d.reason.empty() ? "the recovery strategy gave up" : d.reason;
    } catch (const std::exception& e) {
      d.retry = false;
      why_not = std::string("the recovery strategy failed: ") + e.what();
    }
  }
  sdk::Attempt record;
  record.number = w.attempt;
  record.failure = f;
  record.change = d.retry ? d.change : "";
  record.delay_ms = d.retry ? std::max<std::int64_t>(0, d.delay_ms) : 0;
  w.attempts.push_back(record);
  if (!d.retry) {
    return finish(job, ExecutionState::failed, f.kind, f.message + " (gave up: " + why_not + ")");
  }
  detail::apply_decision(w, d);
  ++w.attempt;
  spdlog::info("job {}: retry {} in {} ms from {}: {}", job.id(), w.attempt, record.delay_ms,
               sdk::to_string(d.resume_phase), d.change);
  job.transition(ExecutionState::retry_pending);
  return AttemptOutcome{ExecutionState::retry_pending, record.delay_ms, std::nullopt};
}

AttemptOutcome ExecutionEngine::finish(Job& job, ExecutionState terminal, std::optional<sdk::ErrorKind> kind,
                                       const std::string& message) {
  job.transition(terminal);
  JobWork& w = job.work();
  JobResult result = job.make_result(terminal, kind, message, w.last_params);
  w.conditioning.reset();
  w.latents.reset();
  w.images.clear();
  w.written.clear();
  // Only what the engine made goes (job_folder.hpp); a FAILED job's checkpoints stay for a look.
  if (terminal != ExecutionState::failed && !(terminal == ExecutionState::completed && config_.keep_checkpoints)) {
    detail::release_job_folder(w);
  }
  if (terminal == ExecutionState::completed) {
    spdlog::debug("job {}: completed, {} image(s) in {:.1f} ms after {} attempt(s)", job.id(),
                 result.images.size(), result.metrics.run_ms, w.attempt);
  } else {
    spdlog::info("job {}: {}: {}", job.id(), to_string(terminal), message);
  }
  return AttemptOutcome{terminal, 0, std::move(result)};
}

JobResult ExecutionEngine::cancel_waiting(Job& job, const std::string& message) {
  JobWork& w = job.work();
  if (w.segments.empty() && w.images.empty()) w.last_params = initial_params(job.request(), config_.options);
  return *finish(job, ExecutionState::cancelled, ErrorKind::cancelled, message).result;
}

}  // namespace ftdr::framework
