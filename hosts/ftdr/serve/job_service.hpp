// hosts/ftdr/serve/job_service.hpp: the server's jobs: the durable journal in front of the
// JobManager, the state every route reads, and the events SSE clients follow.
//
//   JobService jobs(journal, settings);      // reads the journal: finished jobs listable at once
//   jobs.attach(manager, engine);            // the model is loaded: unfinished jobs run again
//   jobs.attach(runner);                     // or: through a JobRunner (job_runner.hpp: worker processes)
//   std::int64_t id = jobs.submit(request, sdk::Priority::normal);  // journaled before it returns
//   nlohmann::json status = *jobs.describe(id);
//   jobs.shutdown(fw::ShutdownMode::drain);
//
// Ids are the journal's (1, 2, ...; never reused), not the JobManager's, which change when a job
// runs again after a restart. Images go to <output_dir>/job-<id>/image-<i>.png; clients never name
// server paths. A job cancelled by a "cancel" shutdown (not by a client) stays queued in the
// journal, so the next start runs it again. Thread-safe.
#pragma once
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftdr/framework/jobs/job_journal.hpp"
#include "ftdr/framework/jobs/job_manager.hpp"
#include "ftdr/framework/server/http_message.hpp"
#include "ftdr/sdk/backend.hpp"
#include "job_runner.hpp"

namespace ftdr::host::serve {

struct ServiceSettings {
  std::filesystem::path output_dir;  // per-job folders go under it
  std::size_t queue_capacity = 64;   // jobs waiting beyond this: 429
  std::size_t keep_finished = 1000;  // finished jobs kept (journal and memory)
  int workers = 1;  // the JobManager's worker threads ([runtime] workers) for /metrics; 0 = jobs run in
                    // worker processes, whose pool reports ftdr_workers itself
};

// One job as the API sees it.
struct JobRecord {
  std::int64_t id = 0;
  sdk::GenerationRequest request;
  sdk::Priority priority = sdk::Priority::normal;
  std::string state = "queued";    // api_state_name(); "queued" until it runs
  framework::JobId engine_id = 0;  // in this process's JobManager; 0 = not submitted
  std::string job_dir;             // its checkpoint folder (set at its first run, journaled)
  bool cancel_asked = false;       // by a client (a shutdown's cancel keeps the job queued)
  int step = 0, total_steps = 0;
  std::int64_t created_ms = 0, finished_ms = 0;
  nlohmann::json result;            // once finished: result_json()
  std::vector<std::string> events;  // the SSE events so far (this process), replayed to new clients
  std::vector<std::shared_ptr<framework::EventStream>> subscribers;
  bool finished() const { return finished_ms != 0; }
};

// Counters for /metrics (this process's).
// Phase durations of finished jobs, as a Prometheus histogram (seconds).
struct DurationHistogram {
  static constexpr double kBounds[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};
  std::uint64_t at_most[std::size(kBounds)] = {};  // cumulative: observations <= kBounds[i]
  std::uint64_t count = 0;
  double sum = 0;
  void observe(double seconds);
};

struct ServiceCounts {
  framework::JobStats manager;
  std::map<std::string, std::uint64_t> queued_by_priority;  // jobs waiting now
  std::map<std::string, std::uint64_t> finished_by_state;
  std::map<std::string, std::uint64_t> failed_attempts_by_kind;
  std::map<std::string, DurationHistogram> phase_seconds;  // by phase
  // Retried attempts of finished jobs by (error kind, recovery_action() of the change).
  std::map<std::pair<std::string, std::string>, std::uint64_t> recoveries;
  int workers = 0;
  std::optional<sdk::MemoryStats> memory;  // the backend's memory_stats() now; none before the load
};

class JobService {
 public:
  JobService(framework::JobJournal& journal, ServiceSettings settings);

  // The model is loaded: unfinished jobs from the journal are submitted again, resuming from the
  // checkpoints in their folders. `backend` (optional): whose memory_stats() /metrics reports.
  void attach(std::shared_ptr<framework::JobManager> manager,
              std::shared_ptr<framework::ExecutionEngine> engine,
              std::shared_ptr<sdk::ModelBackend> backend = nullptr);
  // Jobs run through `runner` (worker processes: no backend in this process, so no device memory).
  void attach(std::shared_ptr<JobRunner> runner, std::shared_ptr<sdk::ModelBackend> backend = nullptr);
  bool ready() const;

  // Throws ApiError: 503 before attach() or while shutting down, 429 on a full queue.
  std::int64_t submit(sdk::GenerationRequest request, sdk::Priority priority);
  std::optional<nlohmann::json> describe(std::int64_t id) const;
  // Jobs with id > after, oldest first, at most `limit`; `state` "" = any.
  nlohmann::json list(const std::string& state, std::size_t limit, std::int64_t after) const;
  // True when the job will end CANCELLED; false for a finished job. Throws ApiError(404).
  bool cancel(std::int64_t id);
  // The file of image `index` of a completed job; nothing when there is no such image.
  std::optional<std::filesystem::path> image(std::int64_t id, std::size_t index) const;
  // Every event of the job so far, then the new ones; closed after the final state. Null: unknown.
  std::shared_ptr<framework::EventStream> subscribe(std::int64_t id);
  ServiceCounts counts() const;
  // The API id of the job the runner knows as `engine_id` (GET /v1/workers); nothing when none.
  std::optional<std::int64_t> api_id(framework::JobId engine_id) const;

  // Refuses new jobs, lets the JobManager drain or cancel, closes every event stream.
  void shutdown(framework::ShutdownMode mode);

 private:
  framework::JobCallbacks callbacks_for(std::int64_t id);
  void run(JobRecord& record);  // submits to the manager; call with mutex_ held
  void on_state(std::int64_t id, framework::ExecutionState to);
  void on_progress(std::int64_t id, int step, int total);
  void on_finished(std::int64_t id, const framework::JobResult& result);
  void publish(JobRecord& record, const std::string& event, const nlohmann::json& data);  // mutex_ held
  void close_streams(JobRecord& record);
  void end_unrun(JobRecord& record, const std::string& state, const std::string& kind,
                 const std::string& message);  // mutex_ held
  void forget_old();

  framework::JobJournal& journal_;
  ServiceSettings settings_;
  mutable std::mutex mutex_;
  std::map<std::int64_t, JobRecord> records_;
  std::shared_ptr<JobRunner> manager_;  // runs the jobs: in this process or in worker processes
  std::shared_ptr<sdk::ModelBackend> backend_;
  bool shutting_down_ = false;
  std::size_t reserved_ = 0;  // submissions being journaled: they count against queue_capacity
  ServiceCounts counts_;
};

}  // namespace ftdr::host::serve
