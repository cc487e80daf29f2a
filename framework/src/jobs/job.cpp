#include "ftdr/framework/jobs/job.hpp"

#include <spdlog/spdlog.h>

namespace ftdr::framework {
namespace {

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// wait = submission → first INITIALIZING; run = first INITIALIZING → last state entered.
void fill_timings(JobMetrics& m, std::chrono::steady_clock::time_point submitted) {
  for (const StateStamp& s : m.states) {
    if (s.state == ExecutionState::initializing) {
      m.wait_ms = ms_between(submitted, s.steady);
      m.run_ms = ms_between(s.steady, m.states.back().steady);
      return;
    }
  }
}

}  // namespace

Job::Job(JobId id, sdk::GenerationRequest request, sdk::Priority priority, JobCallbacks callbacks)
    : id_(id),
      request_(std::move(request)),
      priority_(priority),
      callbacks_(std::move(callbacks)),
      submitted_(std::chrono::steady_clock::now()),
      machine_(id) {}

ExecutionState Job::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return machine_.state();
}

std::vector<StateStamp> Job::state_history() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return machine_.history();
}

void Job::record_phase(const PhaseRecord& record) {
  work_.record_phase(record);
  std::lock_guard<std::mutex> lock(mutex_);
  phase_records_.push_back(record);
}

std::vector<PhaseRecord> Job::phase_records() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return phase_records_;
}

ExecutionState Job::transition(ExecutionState to) {
  ExecutionState from;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    from = machine_.transition(to);
  }
  invoke("on_state", callbacks_.on_state, id_, from, to);
  return from;
}

void Job::set_progress(int step, int total) {
  total_steps_.store(total);
  step_.store(step);
  invoke("on_progress", callbacks_.on_progress, id_, step, total);
}

JobResult Job::make_result(ExecutionState terminal, std::optional<sdk::ErrorKind> kind,
                           const std::string& message, const sdk::GenerationParams& final_params) const {
  JobResult r;
  r.id = id_;
  r.state = terminal;
  r.error_kind = kind;
  r.error_message = message;
  r.final_params = final_params;
  r.attempts = work_.attempts();
  r.degraded = work_.degraded();
  if (terminal == ExecutionState::completed) {
    r.images = work_.images_in_order();
    r.written_paths = work_.written_in_order();
  }
  r.metrics.states = state_history();
  r.metrics.phases = work_.phases();
  r.metrics.checkpoints = work_.checkpoints();
  fill_timings(r.metrics, submitted_);
  return r;
}

void Job::publish_result(JobResult result) {
  const bool ok = result.ok();
  const JobResult* stored = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (result_) {
      spdlog::error("job {}: result published twice; keeping the first", id_);
      return;
    }
    result_ = std::move(result);
    stored = &*result_;
  }
  result_cv_.notify_all();
  // result_ is never replaced once set, so the reference stays valid outside the lock.
  if (ok) {
    invoke("on_complete", callbacks_.on_complete, id_, *stored);
  } else {
    invoke("on_error", callbacks_.on_error, id_, *stored);
  }
}

std::optional<JobResult> Job::wait_result(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!result_cv_.wait_for(lock, timeout, [this] { return result_.has_value(); })) return std::nullopt;
  return result_;
}

bool Job::has_result() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return result_.has_value();
}

void Job::log_callback_failure(const char* name, const char* what) const noexcept {
  try {
    spdlog::error("job {}: {} callback threw: {} (ignored; the job goes on)", id_, name, what);
  } catch (...) {
  }
}

}  // namespace ftdr::framework
