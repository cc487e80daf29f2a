// hosts/ftdr/queue/queue_runner.hpp: claims jobs from the queue plugin while its JobRunner has a
// free slot, runs each through that JobRunner (the in-process JobManager, or the pool of worker
// processes) and keeps the queue told: states and steps (report), the checkpoint folder
// (set_job_dir), the lease (renew, on a timer), and the end (complete with the result JSON).
//
//   QueueRunner runner(queue, job_runner, {"host-a/4711", output_dir, slots});
//   runner.start();                        // claims and renews on threads of its own
//   runner.live_status(job_id);            // GET /v1/jobs/{id} while it runs here
//   runner.shutdown(ShutdownMode::cancel); // running jobs stop and go back to the queue
//
// One job per free slot: the queue's claim order (priority, aging, submission) decides what runs
// next, never a backlog handed to the JobRunner. A lease that says cancel_requested stops the job
// (JobRunner::cancel) and it completes "cancelled"; a lost lease (expired and claimed by another
// runner) stops it and reports nothing more. shutdown(drain) runs every waiting job first;
// shutdown(cancel) stops the running jobs and releases them: they stay queued with their
// checkpoints for the next start. With [queue] files = "queue" (queue_files_hooks.hpp) it also keeps
// the newest checkpoint and, before complete(), the PNGs as blobs of the job, and resumes a job from
// the stored checkpoint when this machine has no newer one. Thread-safe.
//
// The runner announces itself to the queue's runner registry (sdk/queue.hpp, Runners) under
// settings.worker: at start, at each claim and end, with every renewal tick (idle or not), "stopping"
// when a shutdown begins and "stopped" when it ended. A registry the plugin lacks (ABI < 1.4) or
// cannot reach costs a log line, never a job.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "ftdr/framework/config/config.hpp"
#include "ftdr/sdk/queue.hpp"
#include "held_job.hpp"
#include "queue_files_hooks.hpp"
#include "serve/job_runner.hpp"

namespace ftdr::host::queue {

struct RunnerSettings {
  std::string worker;                           // names this runner in the queue ([queue] runner_name)
  std::filesystem::path output_dir;             // job <id> writes <output_dir>/job-<id>/image-<i>.png
  int slots = 1;                                // jobs run at once (the JobRunner's threads or workers)
  std::chrono::milliseconds renew_every{1000};  // well under any plugin's lease duration
  std::chrono::milliseconds claim_wait{500};    // how long one claim() waits (and a shutdown at most)
  framework::QueueFiles files = framework::QueueFiles::shared_folder;  // [queue] files
  std::filesystem::path state_dir;  // files = "queue": checkpoints from the queue go to <state_dir>/jobs/
};

// "<hostname>/<pid>" of this process: a runner's name when [queue] runner_name is not set.
std::string this_worker_name();
std::string this_host_name();

class QueueRunner {
 public:
  QueueRunner(std::shared_ptr<sdk::JobQueue> queue, std::shared_ptr<serve::JobRunner> runner,
              RunnerSettings settings);
  ~QueueRunner();  // shutdown(cancel) if still running
  QueueRunner(const QueueRunner&) = delete;
  QueueRunner& operator=(const QueueRunner&) = delete;

  void start();
  void shutdown(framework::ShutdownMode mode);

  // The JobRunner's status of queue job `job_id` while it runs here; nothing otherwise.
  std::optional<framework::JobStatus> live_status(std::uint64_t job_id) const;
  // The queue job the JobRunner knows as `engine_id` (GET /v1/workers); nothing when none.
  std::optional<std::uint64_t> job_of(framework::JobId engine_id) const;
  framework::JobStats stats() const { return runner_->stats(); }

 private:
  class CancelWatch;
  void claim_loop();
  void renew_loop();
  void begin(const sdk::Lease& lease);
  void run(const std::shared_ptr<HeldJob>& held);
  framework::JobCallbacks callbacks_for(const std::shared_ptr<HeldJob>& held);
  void end(const std::shared_ptr<HeldJob>& held, const framework::JobResult& result);
  void end_unrun(const std::shared_ptr<HeldJob>& held, const std::string& state, const std::string& kind,
                 const std::string& message);
  void forget(const std::shared_ptr<HeldJob>& held);
  void renew_all();
  bool stopping_now() const;  // a "cancel" shutdown (or a drain's end) has begun
  void stop_job(const std::shared_ptr<HeldJob>& held);
  void announce(const char* state = nullptr);  // nullptr: state_now()
  const char* state_now() const;               // "idle", "running" or "stopping" (mutex_ held)

  std::shared_ptr<sdk::JobQueue> queue_;
  std::shared_ptr<serve::JobRunner> runner_;
  RunnerSettings settings_;
  mutable std::mutex mutex_;
  QueueFilesHooks files_;                                   // [queue] files = "queue"; shares mutex_
  std::condition_variable changed_;                         // a slot came free, a cancel arrived, or stopping
  std::map<std::uint64_t, std::shared_ptr<HeldJob>> held_;  // by queue job id
  bool started_ = false, stopping_ = false, draining_ = false, cancelling_ = false;
  bool renew_now_ = false;
  std::int64_t started_ms_ = 0;  // start()'s wall clock: with the pid, this run of the runner
  std::uint64_t jobs_done_ = 0;
  std::thread claimer_, renewer_;
  std::shared_ptr<CancelWatch> watch_;
};

}  // namespace ftdr::host::queue
