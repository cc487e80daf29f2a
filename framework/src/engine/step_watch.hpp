// Private to the engine: the StepObserver it hands backend.denoise().
#pragma once
#include <chrono>
#include <string>

#include "ftdr/framework/engine/execution_engine.hpp"

namespace ftdr::framework::detail {

// At every step boundary, in this order: progress to the job (and its on_progress callback);
// cancellation → Error(cancelled); non-finite latents → Error(numerical_error) (health_checks);
// a step over step_timeout_ms → Error(timeout); every checkpoint_every steps, a latents checkpoint
// in the job's folder under `state_dir` (job_folder.hpp; replacing the previous one; a failed save
// is logged, the job goes on). The checkpoint is written from inside on_step, on the thread running
// denoise(), while the step's latents are valid (the contract in sdk/backend.hpp, StepObserver).
// Between network blocks (check_stop, ABI 1.2): cancellation -> Error(cancelled), and the step
// watchdog -> Error(timeout) as soon as the running step is over step_timeout_ms, so neither waits
// for the end of a step that takes minutes.
class StepWatch final : public sdk::StepObserver {
 public:
  // Steps done are reported to the job's work (JobWork::at_step), the attempt's cursor.
  StepWatch(Job& job, const sdk::ModelBackend& backend, const EngineConfig& config, std::string state_dir);
  void on_step(const sdk::StepEvent& event) override;
  void check_stop() override;
  // After denoise returns: the complete latents, so a decode failure resumes without diffusion.
  void save_final(const sdk::Artifact& latents);

 private:
  void save(const sdk::Artifact& latents, int step);

  Job& job_;
  const sdk::ModelBackend& backend_;
  const EngineConfig& config_;
  std::string state_dir_;
  std::chrono::steady_clock::time_point step_start_ = std::chrono::steady_clock::now();
};

// Encoding and decoding: while alive, the backend's stop observer (ModelBackend::set_stop_observer,
// ABI 1.2) stops it between network blocks once the job is cancelled (Error(cancelled)); older
// backends stop at the phase's end.
class PhaseStop final : public sdk::StepObserver {
 public:
  PhaseStop(Job& job, sdk::ModelBackend& backend, std::string phase);
  ~PhaseStop() override;
  PhaseStop(const PhaseStop&) = delete;
  PhaseStop& operator=(const PhaseStop&) = delete;
  void on_step(const sdk::StepEvent&) override {}
  void check_stop() override;

 private:
  Job& job_;
  sdk::ModelBackend& backend_;
  std::string phase_;
};

}  // namespace ftdr::framework::detail
