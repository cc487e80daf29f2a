// ftdr/framework/jobs/job_work.hpp: the work a job carries from one attempt to the next, and the one
// place that changes it.
//
// A job's request is produced as sub-batches (GenerationParams with first_image/batch), run front
// first. Between attempts the job keeps what a retry can reuse: the conditioning, the front
// sub-batch's latents (in memory, or as its newest checkpoint file), the images of finished
// sub-batches, the failed attempts and the phase records. The ExecutionEngine changes it only
// through the operations below, so every rule about what is kept or dropped lives here:
//
//   work.start(initial_params);                  // first attempt: one sub-batch, the whole request
//   work.ran_with(placed);                       // a phase runs the front sub-batch with these
//   work.record_checkpoint(path, 10);            // the latents after step 10 are on disk
//   work.finish_sub_batch(images, paths);        // decoded: images kept, latents and checkpoint gone
//   work.retry_with(decision);                   // a recovery decision: split, new params, next attempt
//
// Threads: one attempt runs at a time (the engine's lock); only that thread touches the work.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ftdr/framework/jobs/phase_record.hpp"
#include "ftdr/sdk/artifact.hpp"
#include "ftdr/sdk/recovery.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::framework {

// Where the running attempt is, for classifying its failure (sdk::Failure's phase and step).
struct AttemptCursor {
  sdk::Phase phase = sdk::Phase::initializing;
  int step = 0;  // diffusion steps done in the current sub-batch
};

class JobWork {
 public:
  // ---- Sub-batches ----
  // Nothing run and nothing produced yet.
  bool started() const { return !sub_batches_.empty() || !images_.empty(); }
  // Unless started: the whole request as one sub-batch, and the parameters a result reports.
  void start(const sdk::GenerationParams& initial);
  bool done() const { return sub_batches_.empty(); }
  const std::vector<sdk::GenerationParams>& sub_batches() const { return sub_batches_; }
  // The sub-batch that runs next (front). Requires !done().
  const sdk::GenerationParams& current() const { return sub_batches_.front(); }
  // The front sub-batch's first image, 0 when done.
  int current_first_image() const { return done() ? 0 : current().first_image; }
  // A phase runs the front sub-batch with `params` (the memory placement's options): they stay its
  // parameters and become last_params(). Requires !done().
  void ran_with(const sdk::GenerationParams& params);
  // What the latest phase ran with (the result's final_params).
  const sdk::GenerationParams& last_params() const { return last_params_; }
  // The front sub-batch is decoded: its images (and the paths the sink wrote) are kept, its latents
  // and checkpoint dropped, and the next sub-batch becomes the front.
  void finish_sub_batch(std::vector<sdk::Image> images, std::vector<std::string> written);

  // ---- Conditioning ----
  const sdk::Artifact* conditioning() const { return conditioning_.get(); }
  void set_conditioning(sdk::ArtifactPtr conditioning, const sdk::GenerationParams& encoded_with);

  // ---- Latents and checkpoints of the front sub-batch ----
  const sdk::Artifact* latents() const { return latents_.get(); }
  int latents_steps() const;  // steps_done() of the latents in memory, -1 without
  // Denoising finished for the front sub-batch (the latents are in memory or at checkpoint_path()).
  bool latents_complete() const { return latents_complete_; }
  // Latents read back from a checkpoint file (not yet trusted by the backend).
  void set_latents(sdk::ArtifactPtr latents) { latents_ = std::move(latents); }
  // denoise() returned: the complete latents.
  void complete_latents(sdk::ArtifactPtr latents);
  // Forgets the front sub-batch's latents and deletes its checkpoint file (a refused or unreadable
  // checkpoint, finished or changed sub-batch).
  void drop_latents();
  const std::string& checkpoint_path() const { return checkpoint_path_; }  // "" = none
  int checkpoint_steps() const { return checkpoint_steps_; }
  // The front sub-batch's latents after `steps` are saved at `path`; the previous checkpoint file
  // (another path) is deleted. Every path recorded is listed in checkpoints().
  void record_checkpoint(const std::string& path, int steps);
  const std::vector<std::string>& checkpoints() const { return checkpoints_; }

  // ---- The job's checkpoint folder (job_folder.hpp) ----
  const std::string& job_dir() const { return job_dir_; }  // "" = not created (yet)
  bool job_dir_refused() const { return job_dir_refused_; }
  void claim_job_dir(const std::string& dir) { job_dir_ = dir; }
  void refuse_job_dir() { job_dir_refused_ = true; }
  // The folder is gone: no folder, no current checkpoint (the files list stays for the metrics).
  void forget_job_dir();

  // ---- Attempts ----
  int attempt() const { return attempt_; }  // number of the attempt running or next to run
  const AttemptCursor& cursor() const { return cursor_; }
  void begin_attempt() { cursor_ = {}; }
  void enter_phase(sdk::Phase phase) { cursor_.phase = phase; }
  void at_step(int steps_done) { cursor_.step = steps_done; }
  const std::vector<sdk::Attempt>& attempts() const { return attempts_; }  // failed ones, oldest first
  void record_failed_attempt(const sdk::Attempt& attempt) { attempts_.push_back(attempt); }
  // Applies a recovery decision and moves to the next attempt: new parameters for the failing
  // (front) sub-batch, split in halves when asked, and for the ones after it (which keep their
  // images); the artifacts that no longer fit are dropped (checkpoint files deleted). A decision that
  // shrinks the sub-batch without split_batch gets the remaining images queued as one more
  // sub-batch, so no image of the request is lost. resume_phase == initializing drops in-memory
  // artifacts (a lost device context may have taken them), keeping what is on disk.
  void retry_with(const sdk::RecoveryDecision& decision);
  bool degraded() const { return degraded_; }  // a decision changed the output

  // ---- Phase records ----
  void record_phase(const PhaseRecord& record) { phases_.push_back(record); }
  const std::vector<PhaseRecord>& phases() const { return phases_; }

  // ---- The result ----
  std::vector<sdk::Image> images_in_order() const;    // finished sub-batches, by first_image
  std::vector<std::string> written_in_order() const;  // the sink's paths, same order
  // The job ended: artifacts and images are released (the records stay).
  void release_artifacts();

 private:
  std::vector<sdk::GenerationParams> sub_batches_;  // still to produce; front() runs next
  sdk::GenerationParams last_params_;
  sdk::ArtifactPtr conditioning_;
  sdk::GenerationParams conditioning_params_;  // what the conditioning was encoded with
  sdk::ArtifactPtr latents_;                   // the front sub-batch's (partial or complete)
  bool latents_complete_ = false;
  std::string checkpoint_path_;  // newest checkpoint of the front sub-batch
  int checkpoint_steps_ = 0;
  std::vector<std::string> checkpoints_;           // every checkpoint file written, oldest first
  std::string job_dir_;                            // <state_dir>/jobs/<id>/ once the engine made it
  bool job_dir_refused_ = false;                   // it existed before or could not be made
  std::map<int, std::vector<sdk::Image>> images_;  // finished sub-batches by first_image
  std::map<int, std::vector<std::string>> written_;
  std::vector<sdk::Attempt> attempts_;
  int attempt_ = 1;
  AttemptCursor cursor_;
  bool degraded_ = false;
  std::vector<PhaseRecord> phases_;
};

}  // namespace ftdr::framework
