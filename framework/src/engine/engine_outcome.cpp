// ExecutionEngine: how a job ends (its terminal result and what is released).
#include <spdlog/spdlog.h>

#include "ftdr/framework/engine/execution_engine.hpp"
#include "ftdr/framework/jobs/request_validation.hpp"
#include "job_folder.hpp"

namespace ftdr::framework {

AttemptOutcome ExecutionEngine::finish(Job& job, ExecutionState terminal, std::optional<sdk::ErrorKind> kind,
                                       const std::string& message) {
  job.transition(terminal);
  JobWork& w = job.work();
  JobResult result = job.make_result(terminal, kind, message, w.last_params());
  w.release_artifacts();
  // Only what the engine made goes (job_folder.hpp); a FAILED job's checkpoints stay for a look, a
  // job stopped by a shutdown keeps them for the next start.
  const bool resumes_later = terminal == ExecutionState::cancelled && job.stopped_for_restart();
  if (terminal != ExecutionState::failed && !resumes_later &&
      !(terminal == ExecutionState::completed && config_.keep_checkpoints)) {
    detail::release_job_folder(w);
  }
  if (terminal == ExecutionState::completed) {
    spdlog::debug("job {}: completed, {} image(s) in {:.1f} ms after {} attempt(s)", job.id(),
                  result.images.size(), result.metrics.run_ms, w.attempt());
  } else {
    spdlog::info("job {}: {}: {}", job.id(), to_string(terminal), message);
  }
  return AttemptOutcome{terminal, 0, std::move(result)};
}

JobResult ExecutionEngine::cancel_waiting(Job& job, const std::string& message) {
  // A job cancelled before its first attempt reports the parameters it would have run with.
  job.work().start(initial_params(job.request(), config_.options));
  return *finish(job, ExecutionState::cancelled, sdk::ErrorKind::cancelled, message).result;
}

}  // namespace ftdr::framework
