// The in-process job runner (see job_runner.hpp).
#include "job_runner.hpp"

namespace ftdr::host::serve {

namespace fw = ftdr::framework;

namespace {

class InProcessRunner : public JobRunner {
 public:
  InProcessRunner(std::shared_ptr<fw::JobManager> manager, std::shared_ptr<fw::ExecutionEngine> engine)
      : manager_(std::move(manager)), engine_(std::move(engine)) {}

  fw::JobId submit(const sdk::GenerationRequest& request, sdk::Priority priority, fw::JobCallbacks callbacks,
                   const std::string& resume_dir) override {
    return manager_->submit(request, priority, std::move(callbacks), resume_dir);
  }
  std::string job_folder(fw::JobId id) const override { return engine_->job_folder(id); }
  fw::JobStatus status(fw::JobId id) const override { return manager_->status(id); }
  bool cancel(fw::JobId id) override { return manager_->cancel(id); }
  fw::JobStats stats() const override { return manager_->stats(); }
  void shutdown(fw::ShutdownMode mode) override { manager_->shutdown(mode); }

 private:
  std::shared_ptr<fw::JobManager> manager_;
  std::shared_ptr<fw::ExecutionEngine> engine_;
};

}  // namespace

std::shared_ptr<JobRunner> in_process_runner(std::shared_ptr<fw::JobManager> manager,
                                             std::shared_ptr<fw::ExecutionEngine> engine) {
  return std::make_shared<InProcessRunner>(std::move(manager), std::move(engine));
}

}  // namespace ftdr::host::serve
