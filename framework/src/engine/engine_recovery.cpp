// ExecutionEngine: a failed attempt. The failure is classified, the RecoveryStrategy decides, and
// the job's work takes the decision (JobWork::retry_with) or the job ends FAILED.
#include <new>

#include <spdlog/spdlog.h>

#include "ftdr/framework/engine/execution_engine.hpp"

namespace ftdr::framework {
namespace {

using sdk::ErrorKind;

// sdk::Error keeps its kind; std::bad_alloc is out_of_memory; anything else is internal.
sdk::Failure classify_failure(const std::exception_ptr& error, const AttemptCursor& at) {
  sdk::Failure f;
  f.phase = at.phase;
  f.step = at.step;
  try {
    std::rethrow_exception(error);
  } catch (const sdk::Error& e) {
    f.kind = e.kind();
    f.message = e.what();
  } catch (const std::bad_alloc& e) {
    f.kind = ErrorKind::out_of_memory;
    f.message = std::string("out of memory (std::bad_alloc: ") + e.what() + ")";
  } catch (const std::exception& e) {
    f.kind = ErrorKind::internal;
    f.message = std::string("unexpected exception: ") + e.what();
  } catch (...) {
    f.kind = ErrorKind::internal;
    f.message = "unexpected exception of a non-standard type";
  }
  return f;
}

// Kinds that are never retried, whatever the strategy would say (sdk/error.hpp).
bool never_retried(ErrorKind kind) {
  return kind == ErrorKind::invalid_request || kind == ErrorKind::model_error || kind == ErrorKind::cancelled;
}

}  // namespace

AttemptOutcome ExecutionEngine::handle_failure(Job& job, const std::exception_ptr& error) {
  JobWork& w = job.work();
  sdk::Failure f = classify_failure(error, w.cursor());
  const ExecutionState now = job.state();
  if (is_terminal(now)) {  // only a bug gets here (a transition out of a terminal state)
    spdlog::error("job {}: failure after reaching {}: {}", job.id(), to_string(now), f.message);
    return AttemptOutcome{now, 0, std::nullopt};
  }
  if (f.kind == ErrorKind::cancelled || job.cancel_requested()) {
    return finish(job, ExecutionState::cancelled, ErrorKind::cancelled,
                  f.kind == ErrorKind::cancelled ? f.message : "cancelled by request");
  }
  spdlog::warn("job {} attempt {} failed in {} (step {}): {}: {}", job.id(), w.attempt(),
               sdk::to_string(f.phase), f.step, sdk::to_string(f.kind), f.message);

  std::string why_not;
  const sdk::RecoveryDecision d = decide_recovery(w, f, why_not);
  sdk::Attempt record;
  record.number = w.attempt();
  record.failure = f;
  record.change = d.retry ? d.change : "";
  record.delay_ms = d.retry ? std::max<std::int64_t>(0, d.delay_ms) : 0;
  w.record_failed_attempt(record);
  if (!d.retry) {
    return finish(job, ExecutionState::failed, f.kind, f.message + " (gave up: " + why_not + ")");
  }
  w.retry_with(d);
  spdlog::info("job {}: retry {} in {} ms from {}: {}", job.id(), w.attempt(), record.delay_ms,
               sdk::to_string(d.resume_phase), d.change);
  job.transition(ExecutionState::retry_pending);
  return AttemptOutcome{ExecutionState::retry_pending, record.delay_ms, std::nullopt};
}

// The strategy's decision, or no retry with the reason in `why_not`.
sdk::RecoveryDecision ExecutionEngine::decide_recovery(const JobWork& w, const sdk::Failure& f,
                                                       std::string& why_not) {
  sdk::RecoveryDecision d;
  if (never_retried(f.kind)) {
    why_not = std::string(sdk::to_string(f.kind)) + " is never retried";
  } else if (!plugins_.recovery) {
    why_not = "no recovery strategy configured";
  } else if (w.attempt() >= config_.max_attempts) {
    why_not = "reached the engine's max_attempts (" + std::to_string(config_.max_attempts) + ")";
  } else {
    const sdk::GenerationParams current = w.done() ? w.last_params() : w.current();
    try {
      d = plugins_.recovery->decide(f, w.attempts(), current);
      if (!d.retry) why_not = d.reason.empty() ? "the recovery strategy gave up" : d.reason;
    } catch (const std::exception& e) {
      d.retry = false;
      why_not = std::string("the recovery strategy failed: ") + e.what();
    }
  }
  return d;
}

}  // namespace ftdr::framework
