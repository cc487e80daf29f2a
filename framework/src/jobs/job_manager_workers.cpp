// JobManager: worker threads, retry timers, finishing jobs and shutdown.
#include <spdlog/spdlog.h>

#include "ftdr/framework/jobs/job_manager.hpp"

namespace ftdr::framework {

using sdk::ErrorKind;

void JobManager::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_workers_ || scheduler_->size() > 0; });
    if (stop_workers_) return;
    std::optional<JobId> id;
    try {
      id = scheduler_->pop_next(now_ms());
    } catch (const std::exception& e) {
      spdlog::error("scheduler pop_next() failed: {}", e.what());
    }
    if (!id) continue;
    auto it = jobs_.find(*id);
    if (it == jobs_.end()) {
      spdlog::error("scheduler returned job {}, which is not queued; ignored", *id);
      continue;
    }
    std::shared_ptr<Job> job = it->second;
    ++running_;
    lock.unlock();
    AttemptOutcome outcome;
    try {
      outcome = engine_->run_attempt(*job);
    } catch (const std::exception& e) {  // run_attempt handles job failures; this is a broken invariant
      spdlog::error("job {}: engine failed outside an attempt: {}", job->id(), e.what());
      try {
        job->transition(ExecutionState::failed);
      } catch (const std::exception&) {
      }
      outcome.state = ExecutionState::failed;
      outcome.result =
          job->make_result(ExecutionState::failed, ErrorKind::internal, e.what(), job->work().last_params());
    }
    after_attempt(job, std::move(outcome));
    lock.lock();
  }
}

void JobManager::after_attempt(const std::shared_ptr<Job>& job, AttemptOutcome outcome) {
  if (outcome.state != ExecutionState::retry_pending) {
    if (!outcome.result) {  // only a broken engine gets here; never leave a waiter hanging
      outcome.result = job->make_result(job->state(), ErrorKind::internal, "attempt ended without a result",
                                        job->work().last_params());
    }
    finalize(job, std::move(*outcome.result), true);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
    ++totals_.retries;
    if (!job->cancel_requested() && !cancelling_all_) {
      ++retry_pending_;
      const JobId id = job->id();
      timers_.schedule(id, std::chrono::milliseconds(outcome.retry_delay_ms),
                       [this, id] { on_retry_timer(id); });
      return;
    }
  }
  finalize(job, engine_->cancel_waiting(*job, "cancelled while waiting to retry"), false);
}

void JobManager::on_retry_timer(JobId id) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --retry_pending_;
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    job = it->second;
    if (!job->cancel_requested() && !cancelling_all_) {
      // Re-queued retries were accepted long ago: max_queue does not apply to them.
      scheduler_->push(sdk::QueueEntry{id, job->priority(), next_sequence_++, now_ms()});
      work_cv_.notify_one();
      return;
    }
  }
  finalize(job, engine_->cancel_waiting(*job, "cancelled while waiting to retry"), false);
}

void JobManager::finalize(const std::shared_ptr<Job>& job, JobResult result, bool was_running) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (was_running) --running_;
    --outstanding_;
    switch (result.state) {
      case ExecutionState::completed: ++totals_.completed; break;
      case ExecutionState::cancelled: ++totals_.cancelled; break;
      default: ++totals_.failed; break;
    }
    if (result.metrics.run_ms > 0 || result.metrics.wait_ms > 0) {
      wait_sum_ms_ += result.metrics.wait_ms;
      run_sum_ms_ += result.metrics.run_ms;
      ++ran_count_;
    }
    finished_order_.push_back(job->id());
    while (config_.keep_finished != 0 && finished_order_.size() > config_.keep_finished) {
      jobs_.erase(finished_order_.front());  // waiters hold their own reference to the Job
      finished_order_.pop_front();
    }
  }
  idle_cv_.notify_all();
  job->publish_result(std::move(result));
}

// A shutdown's cancel: every job stops to run again at the next start (its checkpoints stay).
void JobManager::cancel_everything() {
  std::vector<JobId> ids;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelling_all_ = true;
    ids.reserve(jobs_.size());
    for (const auto& [id, job] : jobs_) {
      if (!is_terminal(job->state()) && !job->has_result()) job->request_stop_for_restart();
      ids.push_back(id);
    }
  }
  for (JobId id : ids) cancel(id);
}

void JobManager::shutdown(ShutdownMode mode) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shut_down_) return;
    shut_down_ = true;
    accepting_ = false;
  }
  spdlog::debug("job manager: shutting down ({})", mode == ShutdownMode::drain ? "drain" : "cancel");
  if (mode == ShutdownMode::cancel) cancel_everything();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_cv_.wait(lock, [this] { return outstanding_ == 0; });
    stop_workers_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  timers_.stop();
}

}  // namespace ftdr::framework
