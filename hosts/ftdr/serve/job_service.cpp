// The server's jobs (see job_service.hpp).
#include "job_service.hpp"

#include <chrono>

#include "api_error.hpp"
#include "ftdr/framework/jobs/request_json.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/output/png_sink.hpp"
#include "job_json.hpp"
#include "recovery_action.hpp"

namespace ftdr::host::serve {

namespace fw = ftdr::framework;
using nlohmann::json;

namespace {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

sdk::Priority priority_named(const std::string& name) {
  for (auto p : {sdk::Priority::urgent, sdk::Priority::high, sdk::Priority::normal, sdk::Priority::low})
    if (sdk::to_string(p) == name) return p;
  return sdk::Priority::normal;
}

// A job's folder is the server's alone and a job that runs holds no image yet: PNGs found there are
// from a run that was interrupted before its result was journaled, and would otherwise sit beside
// the new run's (image-0.png, image-0-1.png).
void remove_partial_images(const std::filesystem::path& folder) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code removed;
    if (name.rfind("image-", 0) == 0 && it->path().extension() == ".png")
      std::filesystem::remove(it->path(), removed);
  }
}

}  // namespace

void DurationHistogram::observe(double seconds) {
  for (std::size_t i = 0; i < std::size(kBounds); ++i)
    if (seconds <= kBounds[i]) ++at_most[i];
  ++count;
  sum += seconds;
}

JobService::JobService(fw::JobJournal& journal, ServiceSettings settings)
    : journal_(journal), settings_(std::move(settings)) {
  for (const auto& e : journal_.entries()) {
    JobRecord r;
    r.id = e.id;
    r.priority = priority_named(e.priority);
    r.created_ms = e.created_ms;
    r.finished_ms = e.finished_ms;
    r.job_dir = e.job_dir;
    try {
      r.request = fw::request_from_json(json::parse(e.request));
      if (r.finished()) {
        r.state = e.state;
        r.result = json::parse(e.result);
      }                                      // else: queued again when the model is loaded (attach)
    } catch (const std::exception& error) {  // a row FTDR did not write: never guessed at, never dropped
      throw fw::JournalError("job journal " + journal_.file().string() + ": job " + std::to_string(e.id) +
                             " cannot be read (" + error.what() +
                             "); move the file away to start an empty journal");
    }
    records_.emplace(r.id, std::move(r));
  }
}

void JobService::attach(std::shared_ptr<fw::JobManager> manager, std::shared_ptr<fw::ExecutionEngine> engine,
                        std::shared_ptr<sdk::ModelBackend> backend) {
  attach(in_process_runner(std::move(manager), std::move(engine)), std::move(backend));
}

void JobService::attach(std::shared_ptr<JobRunner> runner, std::shared_ptr<sdk::ModelBackend> backend) {
  std::lock_guard<std::mutex> lock(mutex_);
  manager_ = std::move(runner);
  backend_ = std::move(backend);
  std::size_t resumed = 0;
  for (auto& [id, record] : records_) {
    if (record.finished()) continue;
    try {
      journal_.set_state(id, "queued");
      run(record);
      ++resumed;
    } catch (const sdk::Error& e) {  // e.g. a request this model refuses: that job fails, not the server
      end_unrun(record, "failed", std::string(sdk::to_string(e.kind())), e.what());
    } catch (const std::exception& e) {
      end_unrun(record, "failed", "internal", e.what());
    }
  }
  if (resumed > 0)
    fw::host_logger()->info("serve: {} unfinished job(s) from the journal queued again", resumed);
}

bool JobService::ready() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return manager_ && !shutting_down_;
}

fw::JobCallbacks JobService::callbacks_for(std::int64_t id) {
  fw::JobCallbacks cb;
  cb.on_state = [this, id](fw::JobId, fw::ExecutionState, fw::ExecutionState to) { on_state(id, to); };
  cb.on_progress = [this, id](fw::JobId, int step, int total) { on_progress(id, step, total); };
  cb.on_complete = [this, id](fw::JobId, const fw::JobResult& r) { on_finished(id, r); };
  cb.on_error = cb.on_complete;
  return cb;
}

// The job's own folder: a fresh one per id, so a client never chooses where files go.
void JobService::run(JobRecord& record) {
  sdk::GenerationRequest request = record.request;
  request.output_dir = (settings_.output_dir / ("job-" + std::to_string(record.id))).string();
  request.output_prefix = "image";
  remove_partial_images(request.output_dir);
  fw::check_output_folder(request.output_dir);
  record.engine_id = manager_->submit(request, record.priority, callbacks_for(record.id), record.job_dir);
  if (record.job_dir.empty()) {  // its first run: the engine's folder for it, kept for every later run
    record.job_dir = manager_->job_folder(record.engine_id);
    if (!record.job_dir.empty()) journal_.set_job_dir(record.id, record.job_dir);
  }
}

std::int64_t JobService::submit(sdk::GenerationRequest request, sdk::Priority priority) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!manager_)
      throw ApiError(503, "not_ready", "the model is still loading; try again when /readyz answers 200");
    if (shutting_down_) throw ApiError(503, "shutting_down", "the server is shutting down; no new jobs");
    if (manager_->stats().queued + reserved_ >= settings_.queue_capacity)
      throw ApiError(429, "queue_full",
                     std::to_string(settings_.queue_capacity) +
                         " jobs are waiting ([runtime] queue_capacity); submit again later")
          .header("Retry-After", "1");
    ++reserved_;  // its place in the queue, held while it is journaled
  }
  // The commit (an fsync) runs outside the lock: other submissions and the jobs' events go on meanwhile.
  JobRecord record;
  record.request = request;
  record.priority = priority;
  record.created_ms = wall_ms();
  try {
    record.id =
        journal_.add(stored_request(request), std::string(sdk::to_string(priority)), record.created_ms);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    --reserved_;
    throw;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  --reserved_;
  auto& stored = records_.emplace(record.id, std::move(record)).first->second;
  try {
    if (shutting_down_) throw ApiError(503, "shutting_down", "the server is shutting down; no new jobs");
    run(stored);
  } catch (const std::exception& e) {
    const std::int64_t id = stored.id;  // never acknowledged: it leaves the journal again
    records_.erase(id);
    journal_.remove(id);
    if (const auto* api = dynamic_cast<const ApiError*>(&e)) throw *api;
    throw ApiError(500, "internal", std::string("job not accepted: ") + e.what());
  }
  publish(stored, "state", {{"state", "queued"}});
  return stored.id;
}

std::optional<json> JobService::describe(std::int64_t id) const {
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end()) return std::nullopt;
  std::optional<fw::JobStatus> live;
  if (manager_ && it->second.engine_id != 0 && !it->second.finished()) {
    try {
      live = manager_->status(it->second.engine_id);
    } catch (const sdk::Error&) {
    }  // already forgotten by the manager: the record says all
  }
  std::optional<sdk::MemoryStats> memory;
  if (live && live->phase && backend_) {  // running: the backend's figures, asked outside the lock
    const auto backend = backend_;
    lock.unlock();
    try {
      memory = backend->memory_stats();
    } catch (const std::exception&) {
    }  // no figure: no running entry in timings.phases
    lock.lock();
    it = records_.find(id);
    if (it == records_.end()) return std::nullopt;  // forgotten meanwhile (retention)
  }
  return job_json(it->second, live, memory);
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

bool JobService::cancel(std::int64_t id) {
  fw::JobId engine_id = 0;
  std::shared_ptr<JobRunner> manager;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = records_.find(id);
    if (it == records_.end()) throw ApiError(404, "not_found", "no job " + std::to_string(id));
    if (it->second.finished()) return false;
    it->second.cancel_asked = true;
    engine_id = it->second.engine_id;
    manager = manager_;
    if (engine_id == 0) {  // from the journal, not yet submitted (the model is loading)
      end_unrun(it->second, "cancelled", "cancelled", "cancelled before it ran");
      return true;
    }
  }
  // Outside the lock: a queued job's CANCELLED callbacks run on this thread.
  return manager->cancel(engine_id);
}

// A job that never reached the JobManager ends here: journal, record, events.
void JobService::end_unrun(JobRecord& r, const std::string& state, const std::string& kind,
                           const std::string& message) {
  r.result = {{"images", json::array()},
              {"attempts", json::array()},
              {"degraded", false},
              {"timings", json::object()},
              {"error", {{"kind", kind}, {"message", message}}}};
  r.finished_ms = wall_ms();
  r.state = state;
  journal_.finish(r.id, state, r.result.dump(), r.finished_ms);
  ++counts_.finished_by_state[state];
  publish(r, "state", final_event(r));
  close_streams(r);
}

std::optional<std::filesystem::path> JobService::image(std::int64_t id, std::size_t index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end() || it->second.state != "completed") return std::nullopt;
  const json& images = it->second.result["images"];
  if (index >= images.size()) return std::nullopt;
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

void JobService::on_state(std::int64_t id, fw::ExecutionState to) {
  if (fw::is_terminal(to)) return;  // on_finished records it with the result
  const std::string name = api_state_name(to);
  journal_.set_state(id, name);
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end()) return;
  it->second.state = name;
  publish(it->second, "state", {{"state", name}});
}

void JobService::on_progress(std::int64_t id, int step, int total) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end()) return;
  it->second.step = step;
  it->second.total_steps = total;
  publish(it->second, "progress", {{"step", step}, {"total", total}});
}

// The journal's commit (an fsync) runs outside the lock: routes reading other jobs go on meanwhile.
void JobService::on_finished(std::int64_t id, const fw::JobResult& result) {
  const std::string state = api_state_name(result.state);
  bool requeue = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = records_.find(id);
    if (it == records_.end()) return;
    // Stopped by the shutdown, not by a client: it runs at the next start.
    requeue = result.state == fw::ExecutionState::cancelled && shutting_down_ && !it->second.cancel_asked;
  }
  const json stored = result_json(result);
  const std::int64_t now = wall_ms();
  if (requeue)
    journal_.set_state(id, "queued");
  else
    journal_.finish(id, state, stored.dump(), now);
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end()) return;
  JobRecord& r = it->second;
  if (requeue) {
    r.state = "queued";
    return close_streams(r);
  }
  r.state = state;
  r.result = stored;
  r.finished_ms = now;
  ++counts_.finished_by_state[state];
  for (const auto& a : result.attempts) {
    const std::string kind(sdk::to_string(a.failure.kind));
    ++counts_.failed_attempts_by_kind[kind];
    if (!a.change.empty()) ++counts_.recoveries[{kind, recovery_action(a.change)}];
  }
  for (const auto& p : result.metrics.phases)
    counts_.phase_seconds[std::string(sdk::to_string(p.phase))].observe(p.ms / 1000);
  publish(r, "state", final_event(r));
  close_streams(r);
  lock.unlock();
  forget_old();
}

void JobService::publish(JobRecord& record, const std::string& event, const json& data) {
  const std::string text = "id: " + std::to_string(record.events.size() + 1) + "\nevent: " + event +
                           "\ndata: " + data.dump() + "\n\n";
  record.events.push_back(text);
  for (const auto& s : record.subscribers) s->push(text);
}

void JobService::close_streams(JobRecord& record) {
  for (const auto& s : record.subscribers) s->close();
  record.subscribers.clear();
}

void JobService::forget_old() {
  const auto ids = journal_.forget_finished(settings_.keep_finished);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto id : ids) records_.erase(id);
}

ServiceCounts JobService::counts() const {
  ServiceCounts c;
  std::shared_ptr<sdk::ModelBackend> backend;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    c = counts_;
    if (manager_) c.manager = manager_->stats();
    for (const auto& [id, record] : records_)
      if (record.state == "queued") ++c.queued_by_priority[std::string(sdk::to_string(record.priority))];
    backend = backend_;
  }
  c.workers = settings_.workers;
  try {  // outside the lock: a device query may take a while, and may fail (then no figure)
    if (backend) c.memory = backend->memory_stats();
  } catch (const std::exception& e) {
    fw::host_logger()->warn("serve: /metrics: the backend's memory_stats() failed: {}", e.what());
  }
  return c;
}

std::optional<std::int64_t> JobService::api_id(fw::JobId engine_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [id, record] : records_)
    if (record.engine_id == engine_id && !record.finished()) return id;
  return std::nullopt;
}

void JobService::shutdown(fw::ShutdownMode mode) {
  std::shared_ptr<JobRunner> manager;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutting_down_ = true;
    manager = manager_;
  }
  if (manager) manager->shutdown(mode);  // drains or cancels; callbacks run meanwhile
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, record] : records_) close_streams(record);
}

}  // namespace ftdr::host::serve
