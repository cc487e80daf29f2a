// hosts/ftdr/queue/queue_files_hooks.hpp: what a QueueRunner does for [queue] files = "queue"
// (job_files.hpp) at each point of a job's life: where it resumes (the stored checkpoint, restored
// here, when this machine has no newer one), each step's newest whole checkpoint kept in the queue,
// the checkpoint kept when a shutdown releases the job, its PNGs kept before complete() names them,
// and its checkpoints cleared once its result is counted. With any other `files` each hook does
// nothing (resume_folder: the lease's job_dir, the folder every machine shares).
//
//   QueueFilesHooks files(queue, runner, settings.files, settings.state_dir, mutex);
//   resume_dir = files.resume_folder(held);            // before JobRunner::submit
//   files.on_progress(held, step);                     // each step the engine reports
//   files.before_complete(held, state, result);        // a refused PNG turns the result "failed"
//   if (queue.complete(...)) files.after_complete(held);
//
// A checkpoint or PNG the queue refuses (over the plugin's size cap) fails the job: it is cancelled
// in the JobRunner and completes "failed" with that error, never running on without what a
// takeover (or the server) would need. A store that cannot be reached costs a log line and is tried
// again at the next step.
#pragma once
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "ftdr/framework/config/config.hpp"
#include "held_job.hpp"
#include "serve/job_runner.hpp"

namespace ftdr::host::queue {

class QueueFilesHooks {
 public:
  // `mutex` is the runner's: it guards the HeldJob fields these hooks read and write.
  QueueFilesHooks(sdk::JobQueue& queue, serve::JobRunner& runner, framework::QueueFiles files,
                  std::filesystem::path state_dir, std::mutex& mutex);

  // Where the job resumes (JobRunner::submit's resume_dir). Called before the job is shared.
  std::string resume_folder(HeldJob& held);
  // The engine reported `step`: checkpoints with fewer steps are whole.
  void on_progress(const std::shared_ptr<HeldJob>& held, int step);
  // A "cancel" shutdown stopped the job and it goes back to the queue: its newest checkpoint is whole.
  void before_release(const std::shared_ptr<HeldJob>& held);
  // The job ended here: its PNGs go to the queue, named in `result` ("image_blobs"); a PNG or
  // checkpoint the queue refused turns `state` and `result` into that failure.
  void before_complete(const std::shared_ptr<HeldJob>& held, std::string& state, nlohmann::json& result);
  // complete() counted the result: nothing resumes the job any more.
  void after_complete(const HeldJob& held);

 private:
  bool enabled() const { return files_ == framework::QueueFiles::queue; }
  void keep_checkpoint(const std::shared_ptr<HeldJob>& held, int below_step);
  void fail_files(const std::shared_ptr<HeldJob>& held, sdk::ErrorKind kind, const std::string& message);
  void keep_images(const std::shared_ptr<HeldJob>& held, std::string& state, nlohmann::json& result);

  sdk::JobQueue& queue_;
  serve::JobRunner& runner_;
  framework::QueueFiles files_;
  std::filesystem::path state_dir_;  // checkpoints from the queue go to <state_dir>/jobs/
  std::mutex& mutex_;
};

}  // namespace ftdr::host::queue
