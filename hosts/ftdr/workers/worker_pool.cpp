// The worker pool's jobs: queue, dispatch, events, crashes, results (see worker_pool.hpp; the
// processes themselves are in worker_supervisor.cpp).
#include <signal.h>

#include <random>

#include "ftdr/framework/jobs/request_json.hpp"
#include "ftdr/framework/jobs/request_validation.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/workers/worker_protocol.hpp"
#include "worker_pool_parts.hpp"

namespace ftdr::host::workers {

namespace fs = std::filesystem;
namespace fw = ftdr::framework;
using nlohmann::json;

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// PNGs in a job's folder before it runs again are from a run that crashed after writing them.
void remove_partial_images(const fs::path& folder) {
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code removed;
    if (it->path().filename().string().rfind("image-", 0) == 0 && it->path().extension() == ".png")
      fs::remove(it->path(), removed);
  }
}

sdk::ErrorKind kind_of_cause(const std::string& cause) {
  if (cause == "hang") return sdk::ErrorKind::timeout;
  if (cause == "sticky") return sdk::ErrorKind::device_error;
  return sdk::ErrorKind::internal;
}

}  // namespace

WorkerPool::WorkerPool(PoolSettings settings)
    : settings_(std::move(settings)), socket_path_((settings_.state_dir / "workers.sock").string()) {
  std::random_device device;  // ids unique across processes: they name checkpoint folders
  next_id_ = (static_cast<fw::JobId>(device()) << 32) ^ device();
}

WorkerPool::~WorkerPool() { shutdown(fw::ShutdownMode::cancel); }

void WorkerPool::run_events(Events& events) {
  for (auto& e : events) e();
  events.clear();
}

WorkerModel WorkerPool::wait_ready() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return model_ || !start_failure_.empty() || !accepting_; });
  if (model_) return *model_;
  throw sdk::Error(sdk::ErrorKind::model_error,
                   start_failure_.empty() ? "the worker pool was shut down" : start_failure_);
}

fw::JobId WorkerPool::submit(const sdk::GenerationRequest& request, sdk::Priority priority,
                             fw::JobCallbacks callbacks, const std::string& resume_dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    if (!accepting_ || !model_)
      throw sdk::Error(sdk::ErrorKind::invalid_request, "the worker pool is not accepting jobs");
    fw::validate_request(request, &model_->info, &model_->samplers);
  } catch (const sdk::Error&) {
    ++totals_.rejected;
    throw;
  }
  if (next_id_ == 0) ++next_id_;  // 0 means "no job"
  const fw::JobId id = next_id_++;
  auto job = std::make_unique<PoolJob>();
  job->id = id;
  job->request = request;
  job->priority = priority;
  job->callbacks = std::move(callbacks);
  job->job_dir =
      resume_dir.empty() ? (settings_.state_dir / "jobs" / std::to_string(id)).string() : resume_dir;
  std::error_code ec;
  fs::create_directories(job->job_dir, ec);  // the workers adopt it: checkpoints land there
  if (ec)
    throw sdk::Error(sdk::ErrorKind::internal,
                     "cannot create the job folder " + job->job_dir + ": " + ec.message());
  job->submitted = Clock::now();
  job->sequence = next_sequence_++;
  queue_.emplace(static_cast<int>(priority), job->sequence, id);
  jobs_.emplace(id, std::move(job));
  ++totals_.submitted;
  dispatch();
  return id;
}

std::string WorkerPool::job_folder(fw::JobId id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  return it == jobs_.end() ? "" : it->second->job_dir;
}

fw::JobStatus WorkerPool::status(fw::JobId id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end())
    throw sdk::Error(sdk::ErrorKind::invalid_request, "no job " + std::to_string(id) + " in the worker pool");
  const PoolJob& j = *it->second;
  fw::JobStatus s;
  s.id = id;
  s.state = j.state;
  s.phase = fw::phase_of(j.state);
  s.priority = j.priority;
  s.step = j.step;
  s.total_steps = j.total_steps;
  s.attempts = j.runs;
  const auto now = Clock::now();
  s.wait_ms = ms_between(j.submitted, j.runs > 0 ? j.first_run : now);
  s.run_ms = j.runs > 0 ? ms_between(j.first_run, now) : 0;
  if (j.slot < 0) {
    std::size_t position = 0;
    for (const auto& [priority, sequence, queued] : queue_) {
      if (queued == id) s.queue_position = position;
      ++position;
    }
  }
  return s;
}

fw::JobStats WorkerPool::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  fw::JobStats s = totals_;
  s.queued = queue_.size();  // new jobs and those a crash sent back
  s.running = jobs_.size() - queue_.size();
  const auto ended = s.completed + s.failed;
  s.success_rate = ended ? static_cast<double>(s.completed) / static_cast<double>(ended) : 0;
  return s;
}

// Idle workers take the first queued jobs.
void WorkerPool::dispatch() {
  for (auto& slot : slots_) {
    if (queue_.empty()) return;
    if (slot->state != SlotState::idle || !slot->channel) continue;
    const auto [priority, sequence, id] = *queue_.begin();
    PoolJob& job = *jobs_.at(id);
    if (job.runs > 0) remove_partial_images(job.request.output_dir);
    const json run{{"type", "run"},
                   {"job", id},
                   {"request", fw::request_json(job.request)},
                   {"priority", std::string(sdk::to_string(job.priority))},
                   {"job_dir", job.job_dir}};
    if (!slot->channel->send(run)) continue;  // its connection broke: the supervisor sees it end
    queue_.erase(queue_.begin());
    job.slot = slot->index;
    if (job.runs++ == 0) job.first_run = Clock::now();
    slot->state = SlotState::busy;
    slot->job = id;
    slot->last_progress = Clock::now();
    fw::host_logger()->info("workers: job {} to worker {} (pid {}), run {}", id, slot->index, slot->pid,
                            job.runs);
  }
}

void WorkerPool::on_job_message(Slot& slot, const json& message, Events& events) {
  const std::string type = message["type"];
  if (type == "heartbeat") return;
  if (type == "error") {  // sticky: it exits; the supervisor restarts it (worker_gone)
    slot.kill_cause = "sticky";
    slot.kill_detail = "reported a sticky device error (" + message.value("message", std::string()) + ")";
    if (slot.supervised && slot.pid > 0) ::kill(slot.pid, SIGKILL);
    return;
  }
  if (slot.job == 0 || fw::id_field(message, "job") != slot.job) return;  // a job it no longer runs
  PoolJob& job = *jobs_.at(slot.job);
  slot.last_progress = Clock::now();
  const fw::JobId id = job.id;
  if (type == "state") {
    const fw::ExecutionState from = job.state, to = fw::state_field(message, "state");
    job.state = to;
    if (auto cb = job.callbacks.on_state) events.push_back([cb, id, from, to] { cb(id, from, to); });
  } else if (type == "progress") {
    job.step = fw::int_field(message, "step");
    job.total_steps = fw::int_field(message, "total");
    if (auto cb = job.callbacks.on_progress)
      events.push_back([cb, id, step = job.step, total = job.total_steps] { cb(id, step, total); });
  } else if (type == "checkpoint") {
    job.checkpoint_step = fw::int_field(message, "step");
  } else if (type == "result") {
    fw::JobResult result = fw::job_result_from_json(message.at("result"));
    slot.job = 0;
    slot.state = SlotState::idle;
    slot.crashes_in_row = 0;
    finish(job, std::move(result), events);
    dispatch();
  }
}

fw::JobResult WorkerPool::cancelled_result(const PoolJob& job, const std::string& message) const {
  fw::JobResult r;
  r.state = fw::ExecutionState::cancelled;
  r.error_kind = sdk::ErrorKind::cancelled;
  r.error_message = message;
  r.final_params = fw::initial_params(job.request);
  return r;
}

// The job's crashes come first in its attempt history; the pool forgets the job.
void WorkerPool::finish(PoolJob& job, fw::JobResult result, Events& events) {
  std::vector<sdk::Attempt> attempts = job.crash_attempts;
  attempts.insert(attempts.end(), result.attempts.begin(), result.attempts.end());
  for (std::size_t i = 0; i < attempts.size(); ++i) attempts[i].number = static_cast<int>(i) + 1;
  result.attempts = std::move(attempts);
  result.id = job.id;
  if (result.state == fw::ExecutionState::completed)
    ++totals_.completed;
  else if (result.state == fw::ExecutionState::failed)
    ++totals_.failed;
  else
    ++totals_.cancelled;
  std::error_code ec;
  fs::remove(job.job_dir, ec);  // only when empty: a failed job keeps its checkpoints
  auto cb = result.ok() ? job.callbacks.on_complete : job.callbacks.on_error;
  const fw::JobId id = job.id;
  jobs_.erase(id);
  changed_.notify_all();
  if (cb) events.push_back([cb, id, r = std::move(result)] { cb(id, r); });
}

void WorkerPool::requeue_or_fail(PoolJob& job, Slot& slot, const std::string& cause,
                                 const std::string& detail, Events& events) {
  job.slot = -1;
  ++job.crashes;
  sdk::Attempt a;
  a.failure.kind = kind_of_cause(cause);
  a.failure.phase = fw::phase_of(job.state).value_or(sdk::Phase::initializing);
  a.failure.step = job.step;
  a.failure.message =
      "worker " + std::to_string(slot.index) + " (pid " + std::to_string(slot.pid) + ") " + detail;
  if (job.cancel_requested) {
    job.crash_attempts.push_back(a);
    return finish(job, cancelled_result(job, "cancelled by request"), events);
  }
  if (job.crashes >= settings_.max_crashes_per_job) {
    job.crash_attempts.push_back(a);
    fw::JobResult r;
    r.state = fw::ExecutionState::failed;
    r.error_kind = a.failure.kind;
    r.error_message =
        "poison job: it brought down a worker " + std::to_string(job.crashes) +
        " times in a row ([workers] max_crashes_per_job = " + std::to_string(settings_.max_crashes_per_job) +
        "); the last time: " + a.failure.message;
    r.final_params = fw::initial_params(job.request);
    fw::host_logger()->error("workers: job {}: {}", job.id, r.error_message);
    return finish(job, std::move(r), events);
  }
  a.change = "a new worker process resumes it" +
             (job.checkpoint_step > 0 ? " from its checkpoint at step " + std::to_string(job.checkpoint_step)
                                      : std::string(" from the start"));
  job.crash_attempts.push_back(a);
  const fw::ExecutionState from = job.state;
  job.state = fw::ExecutionState::retry_pending;
  ++totals_.retries;
  job.sequence = next_sequence_++;
  queue_.emplace(static_cast<int>(job.priority), job.sequence, job.id);
  if (auto cb = job.callbacks.on_state)
    events.push_back([cb, id = job.id, from] { cb(id, from, fw::ExecutionState::retry_pending); });
}

bool WorkerPool::cancel(fw::JobId id) {
  Events events;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return false;
    PoolJob& job = *it->second;
    if (job.slot < 0) {
      queue_.erase({static_cast<int>(job.priority), job.sequence, id});
      finish(job, cancelled_result(job, "cancelled by request"), events);
    } else {
      job.cancel_requested = true;
      slots_[static_cast<std::size_t>(job.slot)]->channel->send({{"type", "cancel"}, {"job", id}});
    }
  }
  run_events(events);
  return true;
}

void WorkerPool::shutdown(fw::ShutdownMode mode) {
  Events events;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shut_down_ || stopping_) return;
    accepting_ = false;
    changed_.notify_all();
    if (mode == fw::ShutdownMode::cancel) {
      for (auto it = queue_.begin(); it != queue_.end(); it = queue_.erase(it)) {
        PoolJob& job = *jobs_.at(std::get<2>(*it));
        finish(job, cancelled_result(job, "cancelled by the shutdown"), events);
      }
      for (auto& [id, job] : jobs_) {
        if (job->slot < 0) continue;
        job->cancel_requested = true;
        // The job runs again at the next start, from its checkpoints: the worker keeps them.
        slots_[static_cast<std::size_t>(job->slot)]->channel->send(
            {{"type", "cancel"}, {"job", id}, {"for_restart", true}});
      }
    }
  }
  run_events(events);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return jobs_.empty(); });  // workers that crash meanwhile still restart
  }
  stop_workers();
}

}  // namespace ftdr::host::workers
