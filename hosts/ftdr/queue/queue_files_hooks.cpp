// A QueueRunner's jobs with [queue] files = "queue" (see queue_files_hooks.hpp).
#include "queue_files_hooks.hpp"

#include <climits>

#include "ftdr/framework/logging.hpp"
#include "job_files.hpp"

namespace ftdr::host::queue {

namespace fw = ftdr::framework;
using nlohmann::json;

QueueFilesHooks::QueueFilesHooks(sdk::JobQueue& queue, serve::JobRunner& runner, fw::QueueFiles files,
                                 std::filesystem::path state_dir, std::mutex& mutex)
    : queue_(queue), runner_(runner), files_(files), state_dir_(std::move(state_dir)), mutex_(mutex) {}

// A shared folder: the lease's job_dir, which every machine sees. Files in the queue: the stored
// checkpoint with the most steps, restored into a folder of this machine, unless the lease's job_dir
// is here (a runner on this machine ran the job before) with as many steps.
std::string QueueFilesHooks::resume_folder(HeldJob& held) {
  const sdk::QueuedJob& job = held.lease.job;
  if (!enabled()) return job.job_dir;
  const auto local = job.job_dir.empty() ? std::nullopt : newest_local_checkpoint(job.job_dir, INT_MAX);
  const auto stored = newest_stored_checkpoint(queue_, job.id);
  if (!stored || (local && local->step >= stored->step)) return job.job_dir;
  const std::string dir = restore_checkpoint(*stored, state_dir_, held.lease).string();
  fw::host_logger()->info("queue: job {}: resuming at step {} from the queue's checkpoint ({}, blob {})",
                          job.id, stored->step, stored->file_name, stored->blob);
  held.kept_step = stored->step;
  return dir;
}

// The engine writes step N's checkpoint after reporting step N: those with fewer steps are whole.
void QueueFilesHooks::on_progress(const std::shared_ptr<HeldJob>& held, int step) {
  if (enabled()) keep_checkpoint(held, step);
}

void QueueFilesHooks::before_release(const std::shared_ptr<HeldJob>& held) {
  if (enabled()) keep_checkpoint(held, INT_MAX);
}

void QueueFilesHooks::before_complete(const std::shared_ptr<HeldJob>& held, std::string& state,
                                      json& result) {
  if (enabled()) keep_images(held, state, result);
}

void QueueFilesHooks::after_complete(const HeldJob& held) {
  if (enabled()) clear_checkpoints(queue_, held.lease.job.id);
}

// The newest whole checkpoint (fewer steps than below_step) not yet in the queue goes there, as this
// lease's checkpoint blob. A store that cannot be reached now is tried again at the next step; a
// checkpoint over the plugin's size cap fails the job (fail_files).
void QueueFilesHooks::keep_checkpoint(const std::shared_ptr<HeldJob>& held, int below_step) {
  std::string folder;
  int kept = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (held->lost || !held->file_error.empty()) return;
    folder = held->folder;
    kept = held->kept_step;
  }
  const auto newest = folder.empty() ? std::nullopt : newest_local_checkpoint(folder, below_step);
  if (!newest || newest->step <= kept) return;
  try {
    if (!upload_checkpoint(queue_, held->lease, *newest)) return;  // replaced meanwhile
    std::lock_guard<std::mutex> lock(mutex_);
    held->kept_step = newest->step;
  } catch (const sdk::Error& e) {
    const std::string what = "checkpoint " + newest->file.string() +
                             " cannot be kept in the queue ([queue] files = \"queue\"): " + e.what();
    if (e.kind() == sdk::ErrorKind::invalid_request) return fail_files(held, e.kind(), what);
    fw::host_logger()->warn("queue: job {}: {}", held->lease.job.id, what);
  } catch (const std::exception& e) {
    fw::host_logger()->warn("queue: job {}: checkpoint {} not kept in the queue: {}", held->lease.job.id,
                            newest->file.string(), e.what());
  }
}

// A job whose checkpoints or PNGs the queue refuses fails with that error: it never runs on without
// what a takeover (or the server) would need.
void QueueFilesHooks::fail_files(const std::shared_ptr<HeldJob>& held, sdk::ErrorKind kind,
                                 const std::string& message) {
  fw::JobId engine_id = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!held->file_error.empty()) return;
    held->file_error_kind = kind;
    held->file_error = message;
    engine_id = held->engine_id;
  }
  fw::host_logger()->error("queue: job {}: {}", held->lease.job.id, message);
  if (engine_id != 0) runner_.cancel(engine_id);
}

// A completed job's PNGs go to the queue before complete() names them in the result ("image_blobs");
// a PNG or checkpoint the queue refused turns the result into that failure.
void QueueFilesHooks::keep_images(const std::shared_ptr<HeldJob>& held, std::string& state, json& result) {
  if (state == "completed") {
    try {
      result["image_blobs"] = upload_images(queue_, held->lease, result["images"]);
    } catch (const sdk::Error& e) {
      fail_files(held, e.kind(), e.what());
    } catch (const std::exception& e) {
      fail_files(held, sdk::ErrorKind::internal, e.what());
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (held->file_error.empty()) return;
  state = "failed";
  result.erase("image_blobs");
  result["error"] = {{"kind", std::string(sdk::to_string(held->file_error_kind))},
                     {"message", "job " + std::to_string(held->lease.job.id) + ": " + held->file_error}};
}

}  // namespace ftdr::host::queue
