// ftdr/framework/engine/execution_engine.hpp: runs one job on a ModelBackend, phase by phase, one attempt
// at a time.
//
// An attempt goes INITIALIZING (backend.validate, memory stats) → ENCODING_PROMPT → DIFFUSION_RUNNING
// → DECODING → COMPLETED. Before each of the three work phases the MemoryPolicy (if any) decides what
// lives on the device and the backend carries it out; memory stats and the wall time of every phase
// are recorded in the job's metrics. The policy gets the backend's activation estimates multiplied by
// what the engine has learnt about them (memory_calibration.hpp): a phase that finished teaches the
// calibration its measured peak; the estimate, the budget and what the policy switched on (slicing,
// tiling) land in the phase's PhaseRecord and in the log. During diffusion a step observer reports
// progress, stops once the job is cancelled (Error(cancelled)) — between two network blocks when the
// backend calls StepObserver::check_stop (ABI 1.2), also in encoding and decoding when it is an
// ModelBackend::set_stop_observer, else at the next step boundary — fails non-finite latents
// (Error(numerical_error)) and steps slower than the watchdog (Error(timeout)), and saves a latents
// checkpoint every `checkpoint_every` steps to <state_dir>/jobs/<job id>/, a folder the engine
// creates exclusively and is the only one it removes (job_folder.hpp).
//
// On failure the error is classified (sdk::Error's kind; std::bad_alloc → out_of_memory; anything
// else → internal) and the RecoveryStrategy (if any) decides:
//   - retry: the attempt ends RETRY_PENDING with the decision's delay (run_attempt returns; the
//     caller waits on a timer, never a sleeping worker) and the next run_attempt resumes;
//   - split_batch: the failing sub-batch becomes two halves run one after the other;
//   - give up: FAILED, with every attempt in JobResult::attempts.
// invalid_request and model_error are never retried (sdk/error.hpp), and no job gets more than
// EngineConfig::max_attempts attempts, whatever the strategy says.
//
// Resuming: the next attempt starts at INITIALIZING and skips what it still holds. Artifacts are
// reused while they match the new parameters: the conditioning unless the prompt, clip_skip or
// dtype changed or resume_phase <= encoding; the latents (complete ones, or the newest checkpoint)
// unless the sub-batch's geometry, seed or sampling changed — so a decode failure never re-runs
// diffusion. resume_phase == initializing also drops in-memory artifacts (a lost device context
// may have taken them with it); checkpoints on disk are then reloaded through the backend. A
// checkpoint read back from a file is not trusted: the backend checks it belongs to this request
// and model (its identity digest), and one it refuses (invalid_request) or cannot read is dropped
// and the sub-batch runs afresh, never used and never a reason to fail the job.
//
//   ExecutionEngine engine({backend, policy, recovery, tiling}, config);
//   AttemptOutcome o = engine.run_attempt(job);   // COMPLETED/FAILED/CANCELLED/RETRY_PENDING
//
// Threads: run_attempt may be called from several workers; the engine holds one lock for the whole
// attempt, so the backend (which keeps the model weights; one per process is what fits a small GPU)
// and the policy/recovery/tiling plugins see one call at a time. No backend specifics here: the
// engine only moves opaque Artifacts.
#pragma once
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ftdr/framework/engine/memory_calibration.hpp"
#include "ftdr/framework/jobs/job.hpp"
#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/memory_policy.hpp"
#include "ftdr/sdk/recovery.hpp"
#include "ftdr/sdk/tiling.hpp"

namespace ftdr::framework {

// Writes one finished sub-batch's images and returns the paths written. The host wires its PNG
// writer here (png_writer.hpp, with the generation parameters as metadata); without a sink the
// images are only returned in the JobResult. Called from the worker, under the engine's lock.
// Throwing fails the attempt in DECODING (the latents are kept, so a retry only decodes again).
using ImageSink = std::function<std::vector<std::string>(const Job& job, const sdk::GenerationParams& params,
                                                         const std::vector<sdk::Image>& images)>;

struct EngineConfig {
  int checkpoint_every = 0;         // save the latents every K steps (and at the end); 0 = never
  std::string state_dir;            // checkpoints go to <state_dir>/jobs/<job id>/; "" = none
  double step_timeout_ms = 0;       // watchdog: a step slower than this fails with timeout; 0 = off
  bool health_checks = true;        // StepEvent::finite == false fails with numerical_error
  std::uint64_t budget_bytes = 0;   // PlacementRequest::budget_bytes ([memory] device_budget_mb)
  int max_attempts = 8;             // hard cap on attempts per job, whatever the strategy says
  bool keep_checkpoints = false;    // keep the job's folder after COMPLETED (FAILED keeps it)
  bool calibrate_memory = true;     // learn measured/estimate per key (memory_calibration.hpp) in
                                    // <state_dir>/memory_calibration.json (in memory without a
                                    // state_dir) and give the policy calibrated estimates
  CalibrationSettings calibration;  // its moving average and clamp
  sdk::RuntimeOptions options;      // the runtime options every job's first attempt starts with
  ImageSink image_sink;             // optional, see above
};

// The plugins an engine drives. Shared pointers: the loader's deleters keep each plugin's library
// loaded for as long as the engine holds the object.
struct EnginePlugins {
  std::shared_ptr<sdk::ModelBackend> backend;        // required, already load()ed
  std::shared_ptr<sdk::MemoryPolicy> memory_policy;  // optional: null = nothing is moved
  std::shared_ptr<sdk::RecoveryStrategy> recovery;   // optional: null = the first failure is final
  std::shared_ptr<sdk::TilingStrategy> tiling;       // optional: null = whole-image decode even
                                                     // when vae_tiling is on (logged once per job)
};

struct AttemptOutcome {
  ExecutionState state = ExecutionState::failed;  // COMPLETED, FAILED, CANCELLED or RETRY_PENDING
  std::int64_t retry_delay_ms = 0;                // RETRY_PENDING: wait this long, then run again
  std::optional<JobResult> result;                // set for the three terminal states
};

class ExecutionEngine {
 public:
  // Throws sdk::Error(invalid_request) without a backend or with a negative config value.
  ExecutionEngine(EnginePlugins plugins, EngineConfig config = {});

  // Cached at construction (ModelBackend::info()), for request validation without a backend call.
  const sdk::ModelInfo& model_info() const { return info_; }
  // Cached at construction (ModelBackend::samplers()): the names requests are checked against;
  // empty when the backend does not list them (then its validate() alone decides).
  const std::vector<std::string>& samplers() const { return samplers_; }
  const EngineConfig& config() const { return config_; }
  // The estimate calibration, null when EngineConfig::calibrate_memory is off.
  MemoryCalibration* calibration() { return calibration_.get(); }

  // Runs the job (IDLE or RETRY_PENDING) until it completes, fails, is cancelled or must wait for a
  // retry. Never throws for a failure of the job; the result of a terminal state is in the outcome
  // (the caller publishes it).
  AttemptOutcome run_attempt(Job& job);

  // <state_dir>/jobs/<id>: where job `id`'s checkpoints go; "" without a state_dir.
  std::string job_folder(JobId id) const;
  // Before a job's first attempt: takes over the checkpoint folder an earlier run of the same request
  // made (job_folder() of that run's id, before a restart), so diffusion resumes from its newest
  // checkpoint, checked by the backend like any checkpoint read back. Nothing when it does not exist.
  void adopt_job_folder(Job& job, const std::string& dir);

  // Ends a job that is not running (IDLE, or RETRY_PENDING off the queue) as CANCELLED and returns
  // its result. Takes no engine lock: the caller guarantees no attempt of this job is running.
  JobResult cancel_waiting(Job& job, const std::string& message);

 private:
  // The attempt's cursor (phase, step) lives in the job's work (JobWork::cursor()).
  void run_phases(Job& job);
  void run_initializing(Job& job);
  void run_phase(Job& job, ExecutionState state, sdk::Phase phase,
                 const std::function<void(const sdk::GenerationParams&)>& work);
  void run_encoding(Job& job);
  void run_diffusion(Job& job);
  bool load_newer_checkpoint(Job& job);
  void denoise(Job& job, const sdk::GenerationParams& params);
  bool load_final_checkpoint(Job& job);
  void run_decoding(Job& job);
  std::optional<sdk::TilePlan> tile_plan(const Job& job, const sdk::GenerationParams& params);
  std::string place_for(const Job& job, sdk::Phase phase, sdk::GenerationParams& params, PhaseRecord& record);
  std::string run_policy(sdk::Phase phase, sdk::GenerationParams& params, const PhaseRecord& record);
  void learn_memory(PhaseRecord& record);
  AttemptOutcome handle_failure(Job& job, const std::exception_ptr& error);  // engine_recovery.cpp
  sdk::RecoveryDecision decide_recovery(const JobWork& work, const sdk::Failure& failure,
                                        std::string& why_not);
  AttemptOutcome finish(Job& job, ExecutionState terminal, std::optional<sdk::ErrorKind> kind,
                        const std::string& message);

  EnginePlugins plugins_;
  EngineConfig config_;
  sdk::ModelInfo info_;
  std::vector<std::string> samplers_;
  std::unique_ptr<MemoryCalibration> calibration_;
  std::mutex run_mutex_;
};

}  // namespace ftdr::framework
