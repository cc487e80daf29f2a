// Private to the engine: the StepObserver it hands backend.denoise().
#pragma once
#include <string>

#include "ftdr/framework/execution_engine.hpp"

namespace ftdr::framework::detail {

// At every step boundary, in this order: progress to the job (and its on_progress callback);
// cancellation → Error(cancelled); non-finite latents → Error(numerical_error) (health_checks);
// a step over step_timeout_ms → Error(timeout); every checkpoint_every steps, a latents checkpoint
// in the job's folder under `state_dir` (job_folder.hpp; replacing the previous one; a failed save
// is logged, the job goes on).
class StepWatch final : public sdk::StepObserver {
 public:
  StepWatch(Job& job, int& step, const sdk::ModelBackend& backend, const EngineConfig& config,
            std::string state_dir);
  void on_step(const sdk::StepEvent& event) override;
  // After denoise returns: the complete latents, so a decode failure resumes without diffusion.
  void save_final(const sdk::Artifact& latents);

 private:
  void save(const sdk::Artifact& latents, int step);

  Job& job_;
  int& step_;
  const sdk::ModelBackend& backend_;
  const EngineConfig& config_;
  std::string state_dir_;
};

}  // namespace ftdr::framework::detail
