// hosts/ftdr/serve/job_runner.hpp: what JobService runs its jobs through. Two implementations:
// the in-process JobManager and ExecutionEngine (in_process_runner below; [workers] count = 0), and
// the pool of supervised `ftdr worker` processes (workers/worker_pool.hpp). The queue's runner loop
// (queue/queue_runner.hpp) hands one a job per free slot.
//
//   std::shared_ptr<JobRunner> runner = in_process_runner(manager, engine);
//   JobId id = runner->submit(request, priority, callbacks, resume_dir);
//   runner->status(id); runner->cancel(id); runner->shutdown(ShutdownMode::drain);
//
// The contract is JobManager's (job_manager.hpp): submit validates and throws sdk::Error for a bad
// request; callbacks run on the runner's threads, never under its lock; status() throws
// sdk::Error(invalid_request) for an unknown id; ids are unique across processes (they name
// checkpoint folders).
#pragma once
#include <memory>
#include <string>

#include "ftdr/framework/engine/execution_engine.hpp"
#include "ftdr/framework/jobs/job_manager.hpp"

namespace ftdr::host::serve {

class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // `resume_dir`: the checkpoint folder of an earlier run of this job (see job_folder); "" for a new job.
  virtual framework::JobId submit(const sdk::GenerationRequest& request, sdk::Priority priority,
                                  framework::JobCallbacks callbacks, const std::string& resume_dir) = 0;
  // Where job `id` keeps its checkpoints, journaled so that a later run resumes there; "" for none.
  virtual std::string job_folder(framework::JobId id) const = 0;
  virtual framework::JobStatus status(framework::JobId id) const = 0;
  virtual bool cancel(framework::JobId id) = 0;
  virtual framework::JobStats stats() const = 0;
  // Blocks until every job is finished (drain) or cancelled (cancel); callbacks run meanwhile.
  virtual void shutdown(framework::ShutdownMode mode) = 0;
};

// Runs jobs in this process.
std::shared_ptr<JobRunner> in_process_runner(std::shared_ptr<framework::JobManager> manager,
                                             std::shared_ptr<framework::ExecutionEngine> engine);

}  // namespace ftdr::host::serve
