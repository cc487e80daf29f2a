// hosts/ftdr/serve/job_service.hpp: the server's jobs: the queue plugin (sdk/queue.hpp; `local`:
// the durable journal) in front of whoever runs them, the state every route reads, and the events
// SSE clients follow.
//
//   JobService jobs(queue, settings, "job journal /srv/state/journal.sqlite");  // reads the queue
//   jobs.attach(runner, model, backend);     // accepting: validated against `model`, run by `runner`
//   std::int64_t id = jobs.submit(request, sdk::Priority::normal);  // durable in the queue on return
//   nlohmann::json status = *jobs.describe(id);
//   jobs.shutdown(fw::ShutdownMode::drain);
//
// Ids are the queue's (1, 2, ...; never reused). Images go to <output_dir>/job-<id>/image-<i>.png;
// clients never name server paths. States, steps and results come from the queue's events, whoever
// ran the job (this process's QueueRunner, or `ftdr worker` processes on a shared queue); the
// runner's live status adds phase timings while a job runs here. A job stopped by a "cancel"
// shutdown (not by a client) goes back to the queue, so the next start runs it again. With
// [queue] files = "queue" a completed job's PNGs come from the queue's blobs (image_fetcher.hpp) into
// this server's output_dir before the job shows as completed. Thread-safe.
#pragma once
#include <condition_variable>
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

#include "ftdr/framework/jobs/job_manager.hpp"
#include "ftdr/framework/server/http_message.hpp"
#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/queue.hpp"
#include "image_fetcher.hpp"
#include "queue/queue_runner.hpp"

namespace ftdr::host::serve {

struct ServiceSettings {
  std::filesystem::path output_dir;  // per-job folders go under it
  std::size_t queue_capacity = 64;   // jobs waiting beyond this: 429
  std::size_t keep_finished = 1000;  // finished jobs kept (queue and memory)
  int workers = 1;  // the JobManager's worker threads ([runtime] workers) for /metrics; 0 = jobs run in
                    // worker processes, whose pool reports ftdr_workers itself
  framework::QueueFiles files = framework::QueueFiles::shared_folder;  // [queue] files: where PNGs come from
};

// One job as the API sees it.
struct JobRecord {
  std::int64_t id = 0;
  sdk::GenerationRequest request;
  sdk::Priority priority = sdk::Priority::normal;
  std::string state = "queued";  // api_state_name(); "queued" until it runs
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
  std::optional<sdk::QueueDepth> depth;    // the queue's waiting jobs; none when it cannot be asked
  std::int64_t now_ms = 0;                 // wall clock when depth was asked (queue lag)
  std::uint64_t accepted = 0;              // jobs this process queued (ftdr_jobs_submitted_total)
  std::optional<sdk::MemoryStats> memory;  // the backend's memory_stats() now; none before the load
};

// What submit() checks a request against before it is queued (the model this server or its
// workers loaded).
struct ModelCheck {
  sdk::ModelInfo info;
  std::vector<std::string> samplers;
};

class JobService {
 public:
  // Reads every job of the queue (finished ones listable at once) and watches its events. `label`
  // names the queue in errors ("job journal <file>"). Throws sdk::Error(internal) for a job whose
  // request cannot be read: never guessed at, never dropped.
  JobService(std::shared_ptr<sdk::JobQueue> queue, ServiceSettings settings, std::string label);
  ~JobService();
  JobService(const JobService&) = delete;
  JobService& operator=(const JobService&) = delete;

  // From now on jobs are accepted. `runner`: this process's runner loop (live status, /v1/workers),
  // or null when other processes run the jobs. `model`: what requests are checked against before
  // they are queued (none: the runner refuses a bad one, and that job fails). `backend` (optional):
  // whose memory_stats() /metrics reports.
  void attach(std::shared_ptr<queue::QueueRunner> runner, std::optional<ModelCheck> model,
              std::shared_ptr<sdk::ModelBackend> backend = nullptr);
  bool ready() const;

  // Throws ApiError: 503 before attach() or while shutting down, 429 on a full queue, 400 for a
  // request the model refuses.
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
  // The API id of the job this process's runner knows as `engine_id` (GET /v1/workers).
  std::optional<std::int64_t> api_id(framework::JobId engine_id) const;

  // Refuses new jobs, lets the runner drain or cancel, closes every event stream.
  void shutdown(framework::ShutdownMode mode);

 private:
  class Events;  // the queue's observer (job_service_events.cpp)
  std::shared_ptr<Events> watch_queue();
  void unwatch_queue();
  void on_event(const sdk::QueueEvent& event);
  void apply(JobRecord& record, const sdk::QueueEvent& event);  // mutex_ held
  void apply_finished(JobRecord& record, const std::string& state, const std::string& result,
                      std::int64_t now_ms);                                               // mutex_ held
  void count_finished(const std::string& state, const nlohmann::json& result);            // mutex_ held
  void publish(JobRecord& record, const std::string& event, const nlohmann::json& data);  // mutex_ held
  void close_streams(JobRecord& record);
  void trim_finished();          // mutex_ held: the oldest finished records beyond keep_finished
  void forget_old(bool always);  // the queue's own retention (a commit): never on the observer's thread
  void set_state(JobRecord& record, const std::string& state);                        // mutex_ held
  std::optional<framework::JobStatus> waiting_status(const JobRecord& record) const;  // mutex_ held
  // A completed job's PNGs are here (ImageFetcher): it finishes now.
  void fetched(std::int64_t id, const std::string& state, const std::string& result);

  std::shared_ptr<sdk::JobQueue> queue_;
  ServiceSettings settings_;
  std::string label_;
  std::shared_ptr<Events> events_;
  mutable std::mutex mutex_;
  std::condition_variable settled_;  // a job's state changed (shutdown() waits for its runner's last)
  std::map<std::int64_t, JobRecord> records_;
  // Events of jobs whose submit() has not stored their record yet (a runner can be that quick).
  std::map<std::int64_t, std::vector<sdk::QueueEvent>> early_;
  std::shared_ptr<queue::QueueRunner> runner_;
  std::optional<ModelCheck> model_;
  std::shared_ptr<sdk::ModelBackend> backend_;
  bool accepting_ = false, shutting_down_ = false;
  std::size_t reserved_ = 0;  // submissions being queued: they count against queue_capacity
  std::size_t queued_ = 0;    // records waiting for a runner (set_state())
  std::size_t finished_ = 0;  // finished records held
  std::size_t trimmed_ = 0;   // finished records let go since the queue last forgot its old jobs
  ServiceCounts counts_;
  std::unique_ptr<ImageFetcher> fetcher_;  // [queue] files = "queue"; stopped first in ~JobService
};

}  // namespace ftdr::host::serve
