// ftdr/framework/jobs/job_manager.hpp: accepts jobs, orders them with a scheduler plugin, runs them on
// worker threads through one ExecutionEngine, retries them on timers, and hands back results.
//
//   auto engine = std::make_shared<ExecutionEngine>(EnginePlugins{backend, policy, recovery, tiling}, ecfg);
//   JobManager jobs(scheduler, engine, {/*workers*/ 2, /*max_queue*/ 256});
//   JobCallbacks cb; cb.on_progress = [](JobId, int step, int total) { ... };
//   JobId id = jobs.submit(request, sdk::Priority::high, cb);
//   std::optional<JobResult> r = jobs.result(id, std::chrono::seconds(60));
//
// Decisions written down:
//   - submit() validates first (request_validation.hpp); a bad request throws
//     sdk::Error(invalid_request) naming the field and is never queued.
//   - The queue is bounded by max_queue jobs waiting in the scheduler. A full queue throws
//     QueueFullError, an sdk::Error of kind invalid_request ("refused as asked, never retried": the
//     SDK has no "busy" kind); catch QueueFullError to tell it apart and resubmit later. Retries
//     that a timer re-queues are already accepted and never refused.
//   - One backend, shared: every worker runs attempts through the same engine, which holds its lock
//     for a whole attempt (the backend keeps the model weights, and one copy per worker would not
//     fit a small GPU). Extra workers still overlap scheduling, callbacks and result handling with
//     the running attempt; use one manager per backend to run models in parallel.
//   - A retry delay never sleeps a worker: the attempt ends RETRY_PENDING, a Boost.Asio steady_timer
//     on the manager's timer thread re-queues the job (new sequence number, same priority) when it
//     fires, and a worker resumes it.
//   - cancel(): a queued job leaves the scheduler and is CANCELLED at once; a job waiting on its
//     retry timer has the timer cancelled and is CANCELLED; a running job stops between two network
//     blocks (a backend of ABI 1.2) or at the next step boundary (or before its next phase).
//   - Callbacks run on the thread that causes the event (a worker, the timer thread, or the caller
//     of cancel()/shutdown()), never under the manager's lock; one that throws is logged and
//     ignored. Never call shutdown() or destroy the manager from a callback.
//   - A finished job's result is stored first (result() waiters wake), then on_complete/on_error
//     runs; a callback may call status()/result() for its own job.
//   - The scheduler plugin is only called with the manager's lock held (sdk/scheduler.hpp).
//   - Job ids are unique across managers, processes and restarts, not only within one manager: each
//     manager draws a random 64-bit base from std::random_device and numbers its jobs base + 1,
//     base + 2, ... (never 0). Two managers that run n jobs each share an id with probability about
//     2n/2^64. Checkpoint folders (<state_dir>/jobs/<id>/, execution_engine.hpp) rely on it, so two
//     processes sharing a state folder never write to the same job folder.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ftdr/framework/engine/execution_engine.hpp"
#include "ftdr/framework/jobs/job.hpp"
#include "ftdr/framework/jobs/job_stats.hpp"
#include "ftdr/framework/jobs/retry_timers.hpp"
#include "ftdr/sdk/scheduler.hpp"

namespace ftdr::framework {

enum class ShutdownMode {
  drain,   // refuse new jobs, finish every accepted one (retries included), then stop
  cancel,  // refuse new jobs, cancel queued and retry-pending ones, stop running ones at the next
           // step boundary, then stop
};

struct JobManagerConfig {
  int workers = 1;                                   // worker threads, >= 1
  std::size_t max_queue = 1024;                      // jobs waiting in the scheduler; 0 = unbounded
  ShutdownMode shutdown_mode = ShutdownMode::drain;  // what the destructor does
  std::size_t keep_finished = 256;                   // finished jobs kept for status()/result() (with their
                                                     // images: a 512x512 image is 768 KiB); the oldest are
                                                     // forgotten first (0 = keep all)
};

// submit() on a full queue. kind() is invalid_request.
class QueueFullError : public sdk::Error {
 public:
  explicit QueueFullError(std::size_t max_queue);
};

struct JobStatus {
  JobId id = 0;
  ExecutionState state = ExecutionState::idle;
  std::optional<sdk::Phase> phase;  // while running
  sdk::Priority priority = sdk::Priority::normal;
  int step = 0, total_steps = 0;              // diffusion progress of the current sub-batch
  std::optional<std::size_t> queue_position;  // 0 = runs next; only while in the scheduler
  int attempts = 0;                           // attempts started
  double wait_ms = 0;                         // submission → first INITIALIZING (or → now)
  double run_ms = 0;                          // first INITIALIZING → terminal (or → now)
  double state_ms = 0;                        // in the current state so far (the phase's time)
  std::vector<PhaseRecord> phases;            // the phase runs that ended, every attempt's
};

class JobManager {
 public:
  // Starts config.workers workers and the retry timer thread. Throws sdk::Error(invalid_request)
  // for a missing scheduler or engine or workers < 1.
  JobManager(std::shared_ptr<sdk::JobScheduler> scheduler, std::shared_ptr<ExecutionEngine> engine,
             JobManagerConfig config = {});
  ~JobManager();  // shutdown(config.shutdown_mode)
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Validates, then queues. Throws sdk::Error(invalid_request) for a bad request or after shutdown
  // began, QueueFullError when max_queue jobs wait. Thread-safe. `resume_dir`: the checkpoint folder
  // of an earlier run of this same request (ExecutionEngine::job_folder of its id, e.g. before a
  // restart); the job takes it over and resumes from its newest checkpoint (adopt_job_folder).
  JobId submit(const sdk::GenerationRequest& request, sdk::Priority priority = sdk::Priority::normal,
               JobCallbacks callbacks = {}, const std::string& resume_dir = "");

  // Throws sdk::Error(invalid_request) for an id never submitted or already forgotten.
  JobStatus status(JobId id) const;
  // Waits up to `timeout` for a finished job's result; nothing if it is still going. Throws like
  // status() for an unknown id.
  std::optional<JobResult> result(JobId id, std::chrono::milliseconds timeout) const;
  // True when the job was queued, waiting to retry or running and is now cancelled or will stop
  // at its next step boundary (a running job already past its last boundary may still complete);
  // false for an unknown or finished job. `for_restart`: the job stops to run again later (a
  // shutdown of a server whose jobs outlive it), so its checkpoints stay (Job::request_stop_for_restart).
  bool cancel(JobId id, bool for_restart = false);

  JobStats stats() const;

  // Blocks until every accepted job finished (drain) or was cancelled (cancel), then stops the
  // workers and the timer thread. Later calls return at once.
  void shutdown(ShutdownMode mode);

 private:
  void worker_loop();
  void after_attempt(const std::shared_ptr<Job>& job, AttemptOutcome outcome);
  void on_retry_timer(JobId id);
  void finalize(const std::shared_ptr<Job>& job, JobResult result, bool was_running);
  std::shared_ptr<Job> find(JobId id) const;  // call with mutex_ held
  std::int64_t now_ms() const;
  void cancel_everything();

  std::shared_ptr<sdk::JobScheduler> scheduler_;
  std::shared_ptr<ExecutionEngine> engine_;
  JobManagerConfig config_;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;  // a job is queued, or workers must stop
  std::condition_variable idle_cv_;  // a job finished
  std::unordered_map<JobId, std::shared_ptr<Job>> jobs_;
  std::deque<JobId> finished_order_;
  JobId next_id_;  // the next job's id: random base + count (see above)
  std::uint64_t next_sequence_ = 1;
  bool accepting_ = true;
  bool cancelling_all_ = false;
  bool stop_workers_ = false;
  bool shut_down_ = false;
  std::size_t outstanding_ = 0;  // accepted, not yet terminal
  std::size_t running_ = 0;
  std::size_t retry_pending_ = 0;  // on a timer
  JobStats totals_;                // cumulative counters; the live ones are filled in stats()
  double wait_sum_ms_ = 0, run_sum_ms_ = 0;
  std::uint64_t ran_count_ = 0;

  RetryTimers timers_;
  std::vector<std::thread> workers_;
};

}  // namespace ftdr::framework
