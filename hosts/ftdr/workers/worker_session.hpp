// hosts/ftdr/workers/worker_session.hpp: the jobs side of `ftdr worker`: runs each "run" message
// through the worker's own JobManager and ExecutionEngine and reports the job back over the
// channel (state, progress, checkpoint written, result), per worker_protocol.hpp.
//
//   WorkerSession session(channel, manager, sticky_watch);
//   session.run(message);      // a "run" message: submits; the job's events go out as it runs
//   session.cancel(message);   // a "cancel" message
//
// A job that ends with a sticky device error (StickyWatch) is not reported as a result: the
// session sends an "error" message with sticky = true and ends the process (exit code
// kExitStickyDevice), since every later job would fail the same way.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "ftdr/framework/jobs/job_manager.hpp"
#include "ftdr/framework/workers/frame_channel.hpp"
#include "sticky_watch.hpp"

namespace ftdr::host::workers {

inline constexpr int kExitStickyDevice = 75;  // the process must restart to use the device again

class WorkerSession {
 public:
  WorkerSession(framework::FrameChannel& channel, std::shared_ptr<framework::JobManager> manager,
                std::shared_ptr<StickyWatch> sticky);

  // Throws FrameError for a message without the fields it needs.
  void run(const nlohmann::json& message);
  void cancel(const nlohmann::json& message);

 private:
  framework::JobCallbacks callbacks_for(std::uint64_t job, const std::string& job_dir);
  void report_checkpoint(std::uint64_t job, const std::string& job_dir);
  void finished(std::uint64_t job, const framework::JobResult& result);

  framework::FrameChannel& channel_;
  std::shared_ptr<framework::JobManager> manager_;
  std::shared_ptr<StickyWatch> sticky_;
  std::mutex mutex_;
  std::map<std::uint64_t, framework::JobId> local_;  // server job id -> this worker's JobManager id
  std::map<std::uint64_t, std::string> last_checkpoint_;
};

}  // namespace ftdr::host::workers
