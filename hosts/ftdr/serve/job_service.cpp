// The server's jobs (see job_service.hpp): the routes' side. The queue's events are applied in
// job_service_events.cpp.
#include "job_service.hpp"

#include <algorithm>
#include <chrono>

#include "api_error.hpp"
#include "ftdr/framework/jobs/request_json.hpp"
#include "ftdr/framework/jobs/request_validation.hpp"
#include "ftdr/framework/logging.hpp"
#include "job_json.hpp"
#include "wall_clock.hpp"

namespace ftdr::host::serve {

namespace fw = ftdr::framework;
using nlohmann::json;

namespace {

// What a job that never ran keeps as its result (cancelled while it waited).
json unrun_result(const std::string& kind, const std::string& message) {
  return {{"images", json::array()},
          {"attempts", json::array()},
          {"degraded", false},
          {"timings", json::object()},
          {"error", {{"kind", kind}, {"message", message}}}};
}

}  // namespace

void DurationHistogram::observe(double seconds) {
  for (std::size_t i = 0; i < std::size(kBounds); ++i)
    if (seconds <= kBounds[i]) ++at_most[i];
  ++count;
  sum += seconds;
}

JobService::JobService(std::shared_ptr<sdk::JobQueue> queue, ServiceSettings settings, std::string label)
    : queue_(std::move(queue)), settings_(std::move(settings)), label_(std::move(label)) {
  for (const sdk::QueuedJob& e : queue_->jobs()) {
    JobRecord r;
    r.id = static_cast<std::int64_t>(e.id);
    r.priority = e.priority;
    r.created_ms = e.created_ms;
    r.finished_ms = e.finished_ms;
    r.state = e.finished() ? e.state : "queued";  // a leased job's runner reports its state again
    finished_ += r.finished() ? 1 : 0;
    queued_ += r.finished() ? 0 : 1;
    try {
      r.request = fw::request_from_json(json::parse(e.request));
      if (r.finished()) r.result = local_result(json::parse(e.result), settings_.output_dir, r.id);
    } catch (const std::exception& error) {  // a row FTDR did not write: never guessed at, never dropped
      throw sdk::Error(sdk::ErrorKind::internal, label_ + ": job " + std::to_string(e.id) +
                                                     " cannot be read (" + error.what() +
                                                     "); move the file away to start an empty journal");
    }
    records_.emplace(r.id, std::move(r));
  }
  trim_finished();
  forget_old(true);
  if (settings_.files == fw::QueueFiles::queue)
    fetcher_ =
        std::make_unique<ImageFetcher>(queue_, settings_.output_dir,
                                       [this](std::int64_t id, const std::string& state,
                                              const std::string& result) { fetched(id, state, result); });
  events_ = watch_queue();
}

JobService::~JobService() {
  if (events_) unwatch_queue();
  if (fetcher_) fetcher_->stop();
}

void JobService::attach(std::shared_ptr<queue::QueueRunner> runner, std::optional<ModelCheck> model,
                        std::shared_ptr<sdk::ModelBackend> backend) {
  std::lock_guard<std::mutex> lock(mutex_);
  runner_ = std::move(runner);
  model_ = std::move(model);
  backend_ = std::move(backend);
  accepting_ = true;
}

bool JobService::ready() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return accepting_ && !shutting_down_;
}

// Every change of a record's state goes through here: queued_ counts the jobs in the queue that no
// runner holds yet, as this process last heard of them (submit() checks it against queue_capacity
// on every call, so it is a count kept, not a scan).
void JobService::set_state(JobRecord& record, const std::string& state) {
  const bool was_queued = !record.finished() && record.state == "queued";
  record.state = state;
  const bool is_queued = !record.finished() && record.state == "queued";
  if (was_queued != is_queued) is_queued ? ++queued_ : --queued_;
}

std::int64_t JobService::submit(sdk::GenerationRequest request, sdk::Priority priority) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!accepting_)
      throw ApiError(503, "not_ready", "the model is still loading; try again when /readyz answers 200");
    if (shutting_down_) throw ApiError(503, "shutting_down", "the server is shutting down; no new jobs");
    if (model_) {
      try {
        fw::validate_request(request, &model_->info, &model_->samplers);
      } catch (const sdk::Error& e) {
        throw ApiError(400, std::string(sdk::to_string(e.kind())), e.what());
      }
    }
    if (queued_ + reserved_ >= settings_.queue_capacity)
      throw ApiError(429, "queue_full",
                     std::to_string(settings_.queue_capacity) +
                         " jobs are waiting ([runtime] queue_capacity); submit again later")
          .header("Retry-After", "1");
    ++reserved_;  // its place in the queue, held while it is committed
  }
  // The commit (an fsync) runs outside the lock: other submissions and the jobs' events go on meanwhile.
  JobRecord record;
  record.request = request;
  record.priority = priority;
  record.created_ms = wall_ms();
  try {
    record.id =
        static_cast<std::int64_t>(queue_->enqueue(stored_request(request), priority, record.created_ms));
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    --reserved_;
    throw ApiError(500, "internal", std::string("job not accepted: ") + e.what());
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --reserved_;
    ++counts_.accepted;
    const std::int64_t id = record.id;
    JobRecord& stored = records_.emplace(id, std::move(record)).first->second;
    ++queued_;
    publish(stored, "state", {{"state", "queued"}});
    auto early = early_.find(id);
    if (early != early_.end()) {  // a runner was quicker than this thread
      for (const auto& event : early->second) apply(stored, event);
      early_.erase(early);
    }
  }
  forget_old(false);
  return record.id;
}

// A waiting job's place: jobs of a more urgent level, then older jobs of its own, go first (the
// queue's claim order without aging).
std::optional<fw::JobStatus> JobService::waiting_status(const JobRecord& record) const {
  fw::JobStatus s;
  s.id = static_cast<fw::JobId>(record.id);
  s.state = fw::ExecutionState::idle;
  s.priority = record.priority;
  s.wait_ms = std::max<std::int64_t>(0, wall_ms() - record.created_ms);
  std::size_t ahead = 0;
  for (const auto& [id, r] : records_)
    if (id != record.id && !r.finished() && r.state == "queued" &&
        (r.priority < record.priority || (r.priority == record.priority && id < record.id)))
      ++ahead;
  s.queue_position = ahead;
  return s;
}

std::optional<json> JobService::describe(std::int64_t id) const {
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end()) return std::nullopt;
  if (it->second.finished()) return job_json(it->second, std::nullopt);
  if (it->second.state == "queued") return job_json(it->second, waiting_status(it->second));
  const auto runner = runner_;
  const auto backend = backend_;
  lock.unlock();  // the runner's and the backend's figures, asked outside the lock
  std::optional<fw::JobStatus> live;
  if (runner) live = runner->live_status(static_cast<std::uint64_t>(id));
  std::optional<sdk::MemoryStats> memory;
  if (live && live->phase && backend) {
    try {
      memory = backend->memory_stats();
    } catch (const std::exception&) {
    }  // no figure: no running entry in timings.phases
  }
  lock.lock();
  it = records_.find(id);
  if (it == records_.end()) return std::nullopt;  // forgotten meanwhile (retention)
  return job_json(it->second, it->second.finished() ? std::nullopt : live, memory);
}

json JobService::list(const std::string& state, std::size_t limit, std::int64_t after) const {
  std::lock_guard<std::mutex> lock(mutex_);
  json jobs = json::array();
  json next = nullptr;
  for (auto it = records_.upper_bound(after); it != records_.end(); ++it) {
    if (!state.empty() && it->second.state != state) continue;
    if (jobs.size() == limit) {
      next = jobs.back()["id"];
      break;
    }
    jobs.push_back(job_summary(it->second));
  }
  return {{"jobs", jobs}, {"next_after", next}};
}

// A waiting job ends here at once; a running one when its runner stops it (its lease says so).
bool JobService::cancel(std::int64_t id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = records_.find(id);
    if (it == records_.end()) throw ApiError(404, "not_found", "no job " + std::to_string(id));
    if (it->second.finished()) return false;
  }
  const json result = unrun_result("cancelled", "cancelled before it ran");
  const std::int64_t now = wall_ms();
  if (!queue_->cancel(static_cast<std::uint64_t>(id), result.dump(), now)) return false;
  const auto job = queue_->job(static_cast<std::uint64_t>(id));
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(id);
  // Ended at once: the reply says so (the queue's finished event, applied later, changes nothing).
  if (it != records_.end() && job && job->finished())
    apply_finished(it->second, job->state, job->result, now);
  return true;
}

std::optional<std::filesystem::path> JobService::image(std::int64_t id, std::size_t index) const {
  json result;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = records_.find(id);
    if (it == records_.end() || it->second.state != "completed") return std::nullopt;
    result = it->second.result;
  }
  const json images = result.value("images", json::array());
  if (index >= images.size()) return std::nullopt;
  // From the queue, when an earlier fetch failed or this server started after the job ended.
  if (settings_.files == fw::QueueFiles::queue) fetch_missing_image(*queue_, id, result, index);
  return std::filesystem::path(images[index].get<std::string>());
}

std::shared_ptr<fw::EventStream> JobService::subscribe(std::int64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end()) return nullptr;
  auto stream = std::make_shared<fw::EventStream>();
  JobRecord& r = it->second;
  for (const auto& e : r.events) stream->push(e);
  if (r.finished() && r.events.empty())  // finished before this process started
    stream->push("event: state\ndata: " + final_event(r).dump() + "\n\n");
  if (r.finished() || shutting_down_)
    stream->close();
  else
    r.subscribers.push_back(stream);
  return stream;
}

// The queue's forget_finished() walks its finished jobs in one write transaction: made on every
// submission it cost more than the submission itself (profiled: 6% of the server's time against
// 1.8% for the enqueue). It is made once trim_finished() has let a batch of records go (1/32 of
// keep_finished, at least one), so the queue keeps at most that many more than keep_finished.
void JobService::forget_old(bool always) {
  std::size_t trimmed = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!always && trimmed_ < std::max<std::size_t>(1, settings_.keep_finished / 32)) return;
    trimmed = std::exchange(trimmed_, 0);
  }
  try {
    queue_->forget_finished(settings_.keep_finished);
  } catch (const std::exception& e) {  // kept a little longer; the next submission tries again
    fw::host_logger()->warn("serve: cannot forget old jobs: {}", e.what());
    std::lock_guard<std::mutex> lock(mutex_);
    trimmed_ += trimmed;
  }
}

ServiceCounts JobService::counts() const {
  ServiceCounts c;
  std::shared_ptr<sdk::ModelBackend> backend;
  std::shared_ptr<queue::QueueRunner> runner;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    c = counts_;
    for (const auto& [id, record] : records_)
      if (!record.finished() && record.state == "queued")
        ++c.queued_by_priority[std::string(sdk::to_string(record.priority))];
    backend = backend_;
    runner = runner_;
  }
  if (runner) c.manager = runner->stats();
  c.manager.submitted = c.accepted;  // the runner sees only what it claimed
  c.manager.queued = 0;
  for (const auto& [priority, n] : c.queued_by_priority) c.manager.queued += n;
  c.workers = settings_.workers;
  try {  // outside the lock: the queue's store and a device query may take a while, and may fail
    c.now_ms = wall_ms();
    c.depth = queue_->depth();
  } catch (const std::exception& e) {
    fw::host_logger()->warn("serve: /metrics: the queue's depth() failed: {}", e.what());
  }
  try {
    if (backend) c.memory = backend->memory_stats();
  } catch (const std::exception& e) {
    fw::host_logger()->warn("serve: /metrics: the backend's memory_stats() failed: {}", e.what());
  }
  return c;
}

std::optional<std::int64_t> JobService::api_id(fw::JobId engine_id) const {
  std::shared_ptr<queue::QueueRunner> runner;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    runner = runner_;
  }
  if (!runner) return std::nullopt;
  const auto id = runner->job_of(engine_id);
  return id ? std::optional<std::int64_t>(static_cast<std::int64_t>(*id)) : std::nullopt;
}

void JobService::shutdown(fw::ShutdownMode mode) {
  std::shared_ptr<queue::QueueRunner> runner;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutting_down_ = true;
    runner = runner_;
  }
  if (runner) runner->shutdown(mode);  // drains or cancels; the queue's events arrive meanwhile
  std::unique_lock<std::mutex> lock(mutex_);
  // The runner's last events (a final state, a release) come on the queue's thread: SSE clients get
  // them before their streams close. Jobs other processes run may stay running: a bounded wait.
  if (runner)
    settled_.wait_for(lock, std::chrono::seconds(5), [this] {
      return std::none_of(records_.begin(), records_.end(),
                          [](const auto& r) { return !r.second.finished() && r.second.state != "queued"; });
    });
  for (auto& [id, record] : records_) close_streams(record);
}

}  // namespace ftdr::host::serve
