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
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ftdr/framework/jobs/execution_state.hpp"
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

// One phase run of one attempt: how long it took and memory before/after.
struct PhaseRecord {
  int attempt = 1;
  sdk::Phase phase = sdk::Phase::initializing;
  int first_image = 0;           // the sub-batch it ran for
  double ms = 0;
  sdk::MemoryStats before;
  sdk::MemoryStats after;        // after.peak_bytes = the phase's peak (peak reset before it)
  std::string placement_reason;  // the memory policy's reason, "" without a policy

  // The memory decision before the phase's work (memory_calibration.hpp; work phases only):
  std::uint64_t estimate_bytes = 0;             // backend activation estimate at the options the
                                                // phase was going to run with
  double calibration_ratio = 1;                 // learnt measured/estimate for that key (1 = unknown)
  std::uint64_t calibrated_estimate_bytes = 0;  // estimate_bytes x ratio: what the policy was given
  std::uint64_t budget_bytes = 0;               // the budget the policy was given (0 = device free)
  std::string memory_saving;                    // what the policy switched on: "attention slicing",
                                                // "VAE tiling", both joined by ", ", or ""
  std::string calibration_key;                  // the key the phase's measurement is learnt under
  std::uint64_t ran_estimate_bytes = 0;         // backend estimate at the options it really ran with
  std::uint64_t baseline_bytes = 0;             // RSS (CPU) / allocated (CUDA) when the work started
  std::uint64_t measured_activation_bytes = 0;  // after.peak_bytes - baseline_bytes (0 = unmeasured)
};

struct JobMetrics {
  std::vector<StateStamp> states;  // every state entered, oldest first (starts with IDLE)
  std::vector<PhaseRecord> phases;
  double wait_ms = 0;   // submission → first INITIALIZING (0 if it never ran)
  double run_ms = 0;    // first INITIALIZING → terminal state, retry delays included
  std::vector<std::string> checkpoints;  // checkpoint files written, oldest first
};

// What a finished job hands back (COMPLETED, FAILED or CANCELLED).
struct JobResult {
  JobId id = 0;
  ExecutionState state = ExecutionState::failed;
  std::vector<sdk::Image> images;           // in image order (first_image 0, 1, ...); COMPLETED only
  std::vector<std::string> written_paths;   // files the ImageSink wrote; empty without a sink
  std::optional<sdk::ErrorKind> error_kind; // FAILED/CANCELLED: why
  std::string error_message;
  std::vector<sdk::Attempt> attempts;       // every failed attempt, oldest first (the last one's
                                            // change is "" when the job gave up)
  bool degraded = false;                    // recovery changed the output (e.g. resolution)
  sdk::GenerationParams final_params;       // what the last attempt ran with
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

// The work a job carries from one attempt to the next (the engine's; see ExecutionEngine).
struct JobWork {
  std::vector<sdk::GenerationParams> segments;  // sub-batches still to produce; front() runs next
  sdk::ArtifactPtr conditioning;
  sdk::GenerationParams conditioning_params;    // what the conditioning was encoded with
  sdk::ArtifactPtr latents;                     // segments.front()'s latents (partial or complete)
  bool latents_complete = false;                // denoise finished for segments.front() (the
                                                // latents are in `latents` or at checkpoint_path)
  std::string checkpoint_path;                  // newest checkpoint of segments.front(), "" = none
  int checkpoint_steps = 0;
  sdk::GenerationParams last_params;            // what the latest phase ran with
  std::map<int, std::vector<sdk::Image>> images;  // finished sub-batches by first_image
  std::map<int, std::vector<std::string>> written;
  std::vector<sdk::Attempt> attempts;           // failed attempts so far
  int attempt = 1;                              // number of the attempt running or next to run
  sdk::Phase resume_phase = sdk::Phase::initializing;
  bool degraded = false;
  std::vector<PhaseRecord> phases;
  std::vector<std::string> checkpoints;         // every checkpoint file written, oldest first
  std::string job_dir;                          // <state_dir>/jobs/<id>/ once the engine created it
                                                // (the only folder it ever removes); "" = none yet
  bool job_dir_refused = false;                 // it existed before or could not be made: no
                                                // checkpoints for this job
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

  void set_progress(int step, int total);  // stores, then on_progress
  int step() const { return step_.load(); }
  int total_steps() const { return total_steps_.load(); }
  int attempts_started() const { return attempts_started_.load(); }
  void count_attempt() { attempts_started_.fetch_add(1); }

  JobWork& work() { return work_; }
  const JobWork& work() const { return work_; }

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
  std::atomic<bool> cancel_requested_{false};
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
