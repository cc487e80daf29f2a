// JobManager: submission, queries, cancellation and statistics. Workers, retries and shutdown are
// in job_manager_workers.cpp.
#include "ftdr/framework/jobs/job_manager.hpp"

#include <algorithm>
#include <random>

#include <spdlog/spdlog.h>

#include "ftdr/framework/jobs/request_validation.hpp"

namespace ftdr::framework {

using sdk::Error;
using sdk::ErrorKind;

QueueFullError::QueueFullError(std::size_t max_queue)
    : sdk::Error(ErrorKind::invalid_request,
                 "job queue is full: " + std::to_string(max_queue) +
                     " jobs are waiting (max_queue); the job was not accepted, submit it again later") {}

namespace {

// A random starting point for this manager's ids (job_manager.hpp: unique across processes).
JobId random_id_base() {
  std::random_device device;
  const JobId high = device(), low = device();
  return (high << 32) ^ low;
}

}  // namespace

JobManager::JobManager(std::shared_ptr<sdk::JobScheduler> scheduler, std::shared_ptr<ExecutionEngine> engine,
                       JobManagerConfig config)
    : scheduler_(std::move(scheduler)),
      engine_(std::move(engine)),
      config_(config),
      next_id_(random_id_base()) {
  if (!scheduler_) throw Error(ErrorKind::invalid_request, "JobManager: no scheduler given");
  if (!engine_) throw Error(ErrorKind::invalid_request, "JobManager: no execution engine given");
  if (config_.workers < 1) {
    throw Error(ErrorKind::invalid_request,
                "JobManager workers: expected an integer >= 1, got " + std::to_string(config_.workers));
  }
  workers_.reserve(static_cast<std::size_t>(config_.workers));
  for (int i = 0; i < config_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

JobManager::~JobManager() {
  try {
    shutdown(config_.shutdown_mode);
  } catch (const std::exception& e) {
    spdlog::error("job manager shutdown: {}", e.what());
  }
}

std::int64_t JobManager::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<Job> JobManager::find(JobId id) const {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    throw Error(ErrorKind::invalid_request, "unknown job id " + std::to_string(id) +
                                                " (never submitted, or forgotten after keep_finished)");
  }
  return it->second;
}

JobId JobManager::submit(const sdk::GenerationRequest& request, sdk::Priority priority,
                         JobCallbacks callbacks, const std::string& resume_dir) {
  const int p = static_cast<int>(priority);
  try {
    if (p < 0 || p > static_cast<int>(sdk::Priority::low)) {
      throw Error(ErrorKind::invalid_request,
                  "priority: expected urgent, high, normal or low, got " + std::to_string(p));
    }
    validate_request(request, &engine_->model_info(), &engine_->samplers());
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++totals_.rejected;
    throw;
  }
  JobId id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!accepting_) {
      ++totals_.rejected;
      throw Error(ErrorKind::invalid_request, "the job manager is shutting down; the job was not accepted");
    }
    if (config_.max_queue != 0 && scheduler_->size() >= config_.max_queue) {
      ++totals_.rejected;
      throw QueueFullError(config_.max_queue);
    }
    if (next_id_ == 0) ++next_id_;  // 0 means "no job" in JobStatus and JobResult
    id = next_id_++;
    auto job = std::make_shared<Job>(id, request, priority, std::move(callbacks));
    if (!resume_dir.empty()) engine_->adopt_job_folder(*job, resume_dir);
    sdk::QueueEntry entry{id, priority, next_sequence_++, now_ms()};
    try {
      scheduler_->push(entry);
    } catch (const std::exception& e) {
      ++totals_.rejected;
      throw Error(ErrorKind::plugin_error, std::string("scheduler push() failed: ") + e.what());
    }
    jobs_.emplace(id, std::move(job));
    ++totals_.submitted;
    ++outstanding_;
  }
  work_cv_.notify_one();
  spdlog::debug("job {}: submitted ({})", id, sdk::to_string(priority));
  return id;
}

JobStatus JobManager::status(JobId id) const {
  JobStatus s;
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job = find(id);
    s.state = job->state();
    if (s.state == ExecutionState::idle || s.state == ExecutionState::retry_pending) {
      const auto order = scheduler_->snapshot(now_ms());
      auto it = std::find(order.begin(), order.end(), id);
      if (it != order.end()) s.queue_position = static_cast<std::size_t>(it - order.begin());
    }
  }
  s.id = id;
  s.phase = phase_of(s.state);
  s.priority = job->priority();
  s.step = job->step();
  s.total_steps = job->total_steps();
  s.attempts = job->attempts_started();
  s.phases = job->phase_records();
  const auto history = job->state_history();
  const auto now = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  s.state_ms = is_terminal(s.state) ? 0 : ms(history.back().steady, now);
  auto started = std::find_if(history.begin(), history.end(),
                              [](const StateStamp& st) { return st.state == ExecutionState::initializing; });
  if (started == history.end()) {
    s.wait_ms = ms(job->submitted_at(), is_terminal(s.state) ? history.back().steady : now);
  } else {
    s.wait_ms = ms(job->submitted_at(), started->steady);
    s.run_ms = ms(started->steady, is_terminal(s.state) ? history.back().steady : now);
  }
  return s;
}

std::optional<JobResult> JobManager::result(JobId id, std::chrono::milliseconds timeout) const {
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job = find(id);
  }
  return job->wait_result(timeout);
}

bool JobManager::cancel(JobId id, bool for_restart) {
  std::shared_ptr<Job> job;
  std::string message;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return false;
    job = it->second;
    if (is_terminal(job->state()) || job->has_result()) return false;
    if (for_restart) job->request_stop_for_restart();
    job->request_cancel();
    // Whoever takes the job out of the scheduler or the timer owns it from here on.
    if (scheduler_->erase(id)) {
      message = "cancelled while queued";
    } else if (timers_.cancel(id)) {
      --retry_pending_;
      message = "cancelled while waiting to retry";
    } else {
      spdlog::info("job {}: cancellation requested; it stops at the next step boundary", id);
      return true;  // running: the engine sees the flag
    }
  }
  finalize(job, engine_->cancel_waiting(*job, message), false);
  return true;
}

JobStats JobManager::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  JobStats s = totals_;
  s.queued = scheduler_->size();
  s.running = running_;
  s.retry_pending = retry_pending_;
  const std::uint64_t ended = s.completed + s.failed;
  s.success_rate = ended ? static_cast<double>(s.completed) / static_cast<double>(ended) : 0.0;
  s.mean_wait_ms = ran_count_ ? wait_sum_ms_ / static_cast<double>(ran_count_) : 0.0;
  s.mean_run_ms = ran_count_ ? run_sum_ms_ / static_cast<double>(ran_count_) : 0.0;
  return s;
}

}  // namespace ftdr::framework
