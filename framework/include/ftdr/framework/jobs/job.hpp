// ftdr/framework/jobs/job.hpp: one submitted job: its request, state, progress, callbacks, the work it
// carries between attempts, and its result.
//
// The JobManager creates Jobs; the ExecutionEngine runs them one attempt at a time. Everything a
// later attempt reuses (conditioning, the newest latents or their checkpoint, images of finished
// sub-batches, the attempt history) lives in Job::work(), so a retry waits on a timer without
// holding a worker.
//
// Threads: state, progress, cancellation and the result may be read from any thread. work() belongs
// to whichever thread is running the job's current attempt (one at a time, by construction).
// Callbacks run on the thread that causes the event, never under a lock of the Job or the
// JobManager; an exception escaping a callback is logged and swallowed.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ftdr/framework/jobs/execution_state.hpp"
#include "ftdr/framework/jobs/job_work.hpp"
#include "ftdr/framework/jobs/phase_record.hpp"
#include "ftdr/framework/jobs/state_machine.hpp"
#include "ftdr/sdk/artifact.hpp"
#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/recovery.hpp"
#include "ftdr/sdk/scheduler.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::framework {

// Unique across processes and restarts, not a count from 1 (JobManager draws a random base per
// manager: job_manager.hpp); 0 means "no job".
using JobId = std::uint64_t;

struct JobMetrics {
  std::vector<StateStamp> states;  // every state entered, oldest first (starts with IDLE)
  std::vector<PhaseRecord> phases;
  double wait_ms = 0;                    // submission → first INITIALIZING (0 if it never ran)
  double run_ms = 0;                     // first INITIALIZING → terminal state, retry delays included
  std::vector<std::string> checkpoints;  // checkpoint files written, oldest first
};

// What a finished job hands back (COMPLETED, FAILED or CANCELLED).
struct JobResult {
  JobId id = 0;
  ExecutionState state = ExecutionState::failed;
  std::vector<sdk::Image> images;            // in image order (first_image 0, 1, ...); COMPLETED only
  std::vector<std::string> written_paths;    // files the ImageSink wrote; empty without a sink
  std::optional<sdk::ErrorKind> error_kind;  // FAILED/CANCELLED: why
  std::string error_message;
  std::vector<sdk::Attempt> attempts;  // every failed attempt, oldest first (the last one's
                                       // change is "" when the job gave up)
  bool degraded = false;               // recovery changed the output (e.g. resolution)
  sdk::GenerationParams final_params;  // what the last attempt ran with
  JobMetrics metrics;

  bool ok() const { return state == ExecutionState::completed; }
};

struct JobCallbacks {
  // After every denoising step: steps done (1..total) and total steps of the current sub-batch.
  std::function<void(JobId, int step, int total)> on_progress;
  // After every state change.
  std::function<void(JobId, ExecutionState from, ExecutionState to)> on_state;
  // Once, when the job COMPLETED.
  std::function<void(JobId, const JobResult&)> on_complete;
  // Once, when the job FAILED or was CANCELLED (result.error_kind says which).
  std::function<void(JobId, const JobResult&)> on_error;
};

class Job {
 public:
  Job(JobId id, sdk::GenerationRequest request, sdk::Priority priority, JobCallbacks callbacks = {});
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  JobId id() const { return id_; }
  const sdk::GenerationRequest& request() const { return request_; }
  sdk::Priority priority() const { return priority_; }
  std::chrono::steady_clock::time_point submitted_at() const { return submitted_; }

  ExecutionState state() const;
  std::vector<StateStamp> state_history() const;
  // Checked transition (state_machine.hpp), then on_state outside the lock. Throws Error(internal).
  ExecutionState transition(ExecutionState to);

  // Cancellation is cooperative: the engine checks it between phases and at step boundaries.
  void request_cancel() { cancel_requested_.store(true); }
  bool cancel_requested() const { return cancel_requested_.load(); }
  // Cancelled by a shutdown, to run again at the next start (a "cancel" shutdown of `ftdr serve`):
  // its checkpoint folder stays, so that run resumes from the newest checkpoint.
  void request_stop_for_restart() {
    stop_for_restart_.store(true);
    request_cancel();
  }
  bool stopped_for_restart() const { return stop_for_restart_.load(); }

  void set_progress(int step, int total);  // stores, then on_progress
  int step() const { return step_.load(); }
  int total_steps() const { return total_steps_.load(); }
  int attempts_started() const { return attempts_started_.load(); }
  void count_attempt() { attempts_started_.fetch_add(1); }

  JobWork& work() { return work_; }
  const JobWork& work() const { return work_; }
  // A phase run ended: kept in work() for the result and in a copy any thread may read
  // (phase_records()) while the job runs; work() itself belongs to the running attempt's thread.
  void record_phase(const PhaseRecord& record);
  std::vector<PhaseRecord> phase_records() const;

  // A result for a terminal state from what the job holds now (images, attempts, metrics).
  JobResult make_result(ExecutionState terminal, std::optional<sdk::ErrorKind> kind,
                        const std::string& message, const sdk::GenerationParams& final_params) const;

  // Stores the result and wakes wait_result(); then fires on_complete or on_error. Once only.
  void publish_result(JobResult result);
  // Waits up to `timeout` for the result; nothing on timeout.
  std::optional<JobResult> wait_result(std::chrono::milliseconds timeout) const;
  bool has_result() const;

  // Runs a user callback, logging and swallowing whatever it throws.
  template <typename Fn, typename... Args>
  void invoke(const char* name, const Fn& fn, Args&&... args) const noexcept;

  const JobCallbacks& callbacks() const { return callbacks_; }

 private:
  void log_callback_failure(const char* name, const char* what) const noexcept;

  const JobId id_;
  const sdk::GenerationRequest request_;
  const sdk::Priority priority_;
  const JobCallbacks callbacks_;
  const std::chrono::steady_clock::time_point submitted_;

  mutable std::mutex mutex_;
  mutable std::condition_variable result_cv_;
  StateMachine machine_;
  std::optional<JobResult> result_;
  std::vector<PhaseRecord> phase_records_;  // copies of work_'s, for readers on other threads
  std::atomic<bool> cancel_requested_{false};
  std::atomic<bool> stop_for_restart_{false};
  std::atomic<int> step_{0};
  std::atomic<int> total_steps_{0};
  std::atomic<int> attempts_started_{0};
  JobWork work_;
};

template <typename Fn, typename... Args>
void Job::invoke(const char* name, const Fn& fn, Args&&... args) const noexcept {
  if (!fn) return;
  try {
    fn(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    log_callback_failure(name, e.what());
  } catch (...) {
    log_callback_failure(name, "a non-standard exception");
  }
}

}  // namespace ftdr::framework
