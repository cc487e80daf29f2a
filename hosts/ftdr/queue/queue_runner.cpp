// The runner loop over a queue plugin (see queue_runner.hpp).
#include "queue_runner.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "ftdr/framework/jobs/request_json.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/output/png_sink.hpp"
#include "serve/job_json.hpp"
#include "wall_clock.hpp"

namespace ftdr::host::queue {

namespace fw = ftdr::framework;
using nlohmann::json;

namespace {

// A job's folder is its own and a job that starts holds no image yet: PNGs found there are from a
// run that was interrupted before its result was recorded, and would otherwise sit beside the new
// run's (image-0.png, image-0-1.png).
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

std::string this_host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return host[0] ? host : "localhost";
}

std::string this_worker_name() { return this_host_name() + "/" + std::to_string(::getpid()); }

// Cancel events from the queue wake the renew thread, which asks the lease and stops the job. The
// observer outlives the runner (the queue holds it): `owner` is cleared when the runner goes.
class QueueRunner::CancelWatch final : public sdk::QueueObserver {
 public:
  explicit CancelWatch(QueueRunner* owner) : owner_(owner) {}
  void on_event(const sdk::QueueEvent& event) override {
    if (event.kind != sdk::QueueEventKind::cancel) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!owner_) return;
    std::lock_guard<std::mutex> owner_lock(owner_->mutex_);
    if (owner_->held_.count(event.job_id) == 0) return;
    owner_->renew_now_ = true;
    owner_->changed_.notify_all();
  }
  void detach() {
    std::lock_guard<std::mutex> lock(mutex_);
    owner_ = nullptr;
  }

 private:
  std::mutex mutex_;
  QueueRunner* owner_;
};

QueueRunner::QueueRunner(std::shared_ptr<sdk::JobQueue> queue, std::shared_ptr<serve::JobRunner> runner,
                         RunnerSettings settings)
    : queue_(std::move(queue)),
      runner_(std::move(runner)),
      settings_(std::move(settings)),
      files_(*queue_, *runner_, settings_.files, settings_.state_dir, mutex_) {}

QueueRunner::~QueueRunner() {
  shutdown(fw::ShutdownMode::cancel);
  if (watch_) watch_->detach();
}

void QueueRunner::start() {
  watch_ = std::make_shared<CancelWatch>(this);
  queue_->watch(watch_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    started_ms_ = wall_ms();
  }
  announce();  // before the first claim, whose own announcement must not be overtaken
  std::lock_guard<std::mutex> lock(mutex_);
  started_ = true;
  claimer_ = std::thread([this] { claim_loop(); });
  renewer_ = std::thread([this] { renew_loop(); });
}

// What the runner is doing now (mutex_ held).
const char* QueueRunner::state_now() const {
  if (stopping_) return "stopping";
  return held_.empty() ? "idle" : "running";
}

void QueueRunner::announce(const char* state) {
  sdk::RunnerInfo info;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    info.name = settings_.worker;
    info.host = this_host_name();
    info.pid = ::getpid();
    info.state = state ? state : state_now();
    info.job = held_.empty() ? 0 : held_.begin()->first;
    info.jobs_done = jobs_done_;
    info.started_ms = started_ms_;
  }
  try {
    queue_->announce(info, wall_ms());
  } catch (const std::exception& e) {  // the listing goes stale; the jobs go on
    fw::host_logger()->warn("queue: cannot announce runner '{}': {}", info.name, e.what());
  }
}

// One claim per free slot. Draining: claims without waiting until the queue has nothing left and
// every job here ended.
void QueueRunner::claim_loop() {
  for (;;) {
    bool draining = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] {
        return (stopping_ && !draining_) || static_cast<int>(held_.size()) < settings_.slots;
      });
      if (stopping_ && !draining_) return;
      draining = draining_;
    }
    std::optional<sdk::Lease> lease;
    try {
      lease = queue_->claim(settings_.worker, draining ? 0 : settings_.claim_wait.count());
    } catch (const std::exception& e) {  // the store is unreachable: try again after a pause
      fw::host_logger()->error("queue: claim() failed: {}", e.what());
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait_for(lock, settings_.claim_wait, [this] { return stopping_; });
      continue;
    }
    if (lease) {
      if (stopping_now()) {  // claimed as a "cancel" shutdown began: it waits for the next start
        queue_->release(*lease);
        return;
      }
      begin(*lease);
      continue;
    }
    if (!draining) continue;
    std::unique_lock<std::mutex> lock(mutex_);
    if (held_.empty()) return;  // drained: nothing waits, nothing runs
    const std::size_t running = held_.size();
    changed_.wait(lock, [&] { return held_.size() < running; });
  }
}

void QueueRunner::begin(const sdk::Lease& lease) {
  auto held = std::make_shared<HeldJob>();
  held->lease = lease;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    held_[lease.job.id] = held;
  }
  announce();
  if (lease.job.cancel_requested) {  // cancelled while a runner that is gone held it
    held->client_cancel = true;
    return end_unrun(held, "cancelled", "cancelled", "cancelled before it ran");
  }
  try {
    run(held);
  } catch (const sdk::Error& e) {  // e.g. a request this model refuses: that job fails, not the runner
    end_unrun(held, "failed", std::string(sdk::to_string(e.kind())), e.what());
  } catch (const std::exception& e) {
    end_unrun(held, "failed", "internal", e.what());
  }
}

// The job's own folder under output_dir: a fresh one per id, so a client never chooses where files go.
void QueueRunner::run(const std::shared_ptr<HeldJob>& held) {
  const sdk::QueuedJob& job = held->lease.job;
  sdk::GenerationRequest request = fw::request_from_json(json::parse(job.request));
  request.output_dir = (settings_.output_dir / ("job-" + std::to_string(job.id))).string();
  request.output_prefix = "image";
  remove_partial_images(request.output_dir);
  fw::check_output_folder(request.output_dir);
  const std::string resume_dir = files_.resume_folder(*held);
  const fw::JobId engine_id = runner_->submit(request, job.priority, callbacks_for(held), resume_dir);
  std::error_code ec;
  const std::string folder = !resume_dir.empty() && std::filesystem::is_directory(resume_dir, ec)
                                 ? resume_dir
                                 : runner_->job_folder(engine_id);
  bool cancel_now = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    held->engine_id = engine_id;
    held->folder = folder;
    cancel_now = held->client_cancel || held->lost || !held->file_error.empty();  // before the id was known
  }
  // Its first run (or one in another folder: restored from the queue, or the old one is gone): the
  // engine's folder for it, kept for every later run.
  if (!folder.empty() && folder != job.job_dir) queue_->set_job_dir(held->lease, folder);
  if (cancel_now) runner_->cancel(engine_id);
}

fw::JobCallbacks QueueRunner::callbacks_for(const std::shared_ptr<HeldJob>& held) {
  fw::JobCallbacks cb;
  cb.on_state = [this, held](fw::JobId, fw::ExecutionState, fw::ExecutionState to) {
    if (fw::is_terminal(to)) return;  // end() completes it with the result
    if (!queue_->report(held->lease, {held->lease.job.id, sdk::QueueEventKind::state,
                                      serve::api_state_name(to), 0, 0, ""}))
      stop_job(held);
  };
  cb.on_progress = [this, held](fw::JobId, int step, int total) {
    if (!queue_->report(held->lease,
                        {held->lease.job.id, sdk::QueueEventKind::progress, "", step, total, ""}))
      return stop_job(held);
    files_.on_progress(held, step);
  };
  cb.on_complete = [this, held](fw::JobId, const fw::JobResult& r) { end(held, r); };
  cb.on_error = cb.on_complete;
  return cb;
}

// The result goes to the queue; a job stopped by a "cancel" shutdown (not by a client) is given back
// instead, to run at the next start from its checkpoints.
void QueueRunner::end(const std::shared_ptr<HeldJob>& held, const fw::JobResult& result) {
  bool lost = false, release = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lost = held->lost;
    release = result.state == fw::ExecutionState::cancelled && cancelling_ && !held->client_cancel &&
              held->file_error.empty();
  }
  try {
    if (release) {
      files_.before_release(held);
      queue_->release(held->lease);
    } else if (!lost) {
      std::string state = serve::api_state_name(result.state);
      json stored = serve::result_json(result);
      files_.before_complete(held, state, stored);
      if (queue_->complete(held->lease, state, stored.dump(), wall_ms())) files_.after_complete(*held);
    }
  } catch (const std::exception& e) {  // the lease runs out and another claim runs the job again
    fw::host_logger()->error("queue: job {}: cannot record its end: {}", held->lease.job.id, e.what());
  }
  forget(held);
}

// A job that never reached the JobRunner ends here.
void QueueRunner::end_unrun(const std::shared_ptr<HeldJob>& held, const std::string& state,
                            const std::string& kind, const std::string& message) {
  const json result{{"images", json::array()},
                    {"attempts", json::array()},
                    {"degraded", false},
                    {"timings", json::object()},
                    {"error", {{"kind", kind}, {"message", message}}}};
  try {
    queue_->complete(held->lease, state, result.dump(), wall_ms());
  } catch (const std::exception& e) {
    fw::host_logger()->error("queue: job {}: cannot record its end: {}", held->lease.job.id, e.what());
  }
  forget(held);
}

void QueueRunner::forget(const std::shared_ptr<HeldJob>& held) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    held_.erase(held->lease.job.id);
    ++jobs_done_;
    changed_.notify_all();
  }
  announce();
}

// The lease is gone: the job stops, and nothing more of it is reported.
void QueueRunner::stop_job(const std::shared_ptr<HeldJob>& held) {
  fw::JobId engine_id = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (held->lost) return;
    held->lost = true;
    engine_id = held->engine_id;
  }
  fw::host_logger()->warn("queue: job {}: its lease was lost; stopping it here", held->lease.job.id);
  if (engine_id != 0) runner_->cancel(engine_id);
}

bool QueueRunner::stopping_now() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stopping_ && !draining_;
}

// Renews every held lease each renew_every, and at once after a cancel event. Ends with the shutdown
// once no job is held (a drain may still claim: it ends after the draining).
void QueueRunner::renew_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto done = [this] { return stopping_ && !draining_ && held_.empty(); };
  while (!done()) {
    changed_.wait_for(lock, settings_.renew_every, [&] { return renew_now_ || done(); });
    renew_now_ = false;
    lock.unlock();
    renew_all();
    announce();
    lock.lock();
  }
}

void QueueRunner::renew_all() {
  std::map<std::uint64_t, std::shared_ptr<HeldJob>> held;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    held = held_;
  }
  for (const auto& [id, h] : held) {
    sdk::LeaseState state = sdk::LeaseState::held;
    try {
      state = queue_->renew(h->lease);
    } catch (const std::exception& e) {  // tried again at the next tick, while the lease lasts
      fw::host_logger()->warn("queue: job {}: renew() failed: {}", id, e.what());
      continue;
    }
    if (state == sdk::LeaseState::lost) {
      stop_job(h);
    } else if (state == sdk::LeaseState::cancel_requested) {
      fw::JobId engine_id = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (h->client_cancel) continue;
        h->client_cancel = true;
        engine_id = h->engine_id;
      }
      if (engine_id != 0) runner_->cancel(engine_id);  // a queued job's callbacks run on this thread
    }
  }
}

void QueueRunner::shutdown(fw::ShutdownMode mode) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    draining_ = mode == fw::ShutdownMode::drain;
    cancelling_ = mode == fw::ShutdownMode::cancel;
  }
  changed_.notify_all();
  announce("stopping");
  claimer_.join();          // drain: after every waiting job was claimed and ended
  runner_->shutdown(mode);  // cancel: the running jobs end "cancelled" and are released (end())
  {
    std::lock_guard<std::mutex> lock(mutex_);
    draining_ = false;
  }
  changed_.notify_all();
  renewer_.join();
  announce("stopped");
}

std::optional<fw::JobStatus> QueueRunner::live_status(std::uint64_t job_id) const {
  fw::JobId engine_id = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = held_.find(job_id);
    if (it == held_.end() || it->second->engine_id == 0) return std::nullopt;
    engine_id = it->second->engine_id;
  }
  try {
    return runner_->status(engine_id);
  } catch (const sdk::Error&) {  // ended meanwhile
    return std::nullopt;
  }
}

std::optional<std::uint64_t> QueueRunner::job_of(fw::JobId engine_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [id, held] : held_)
    if (held->engine_id == engine_id) return id;
  return std::nullopt;
}

}  // namespace ftdr::host::queue
