// hosts/ftdr/queue/job_files.hpp: [queue] files = "queue": a job's newest checkpoint and its PNGs
// kept as blobs of the job in the queue plugin (sdk/queue.hpp put_blob/get_blob), so the machines
// of a fleet share nothing but the queue. The runner (queue_runner.cpp) uploads and restores
// checkpoints and uploads the PNGs; the server (serve/job_service*.cpp) fetches the PNGs.
//
//   upload_checkpoint(queue, lease, "<state_dir>/jobs/42/latents_i0_step6.ckpt");  // as diffusion goes
//   if (auto c = newest_stored_checkpoint(queue, job_id)) dir = restore_checkpoint(*c, state_dir, lease);
//   json names = upload_images(queue, lease, result["images"]);  // before complete(), into the result
//   fetch_image(queue, job_id, names[0], "<output_dir>/job-7/image-0.png");   // on the server
//
// Blobs of a job, each one key of the plugin (replaced whole, never half-written):
//   checkpoint-t<token>   the newest checkpoint written under lease <token>: "<file name>\n<bytes>";
//                         emptied ("") once the job's result is counted
//   t<token>-<png name>   a PNG of the completed job, named in its result's "image_blobs"
//
// Fencing: the plugin's put_blob is not fenced by a lease (the SDK's blob calls take no token), so
// a runner whose lease expired but which still runs could write after another runner claimed the
// job. Every name therefore carries the writer's token: a stale runner only ever replaces its own
// blobs, never the newer runner's. The next claim resumes from the stored checkpoint with the most
// steps, whoever wrote it: every checkpoint of a job continues the same deterministic computation of
// the same request (and the backend checks one read back belongs to the request), so more steps is
// strictly more progress, and a stale runner's extra blob can only help. A stale runner's PNGs are
// never served: the server reads the names from the result that complete() counted, which is the
// winner's (complete() is fenced), so result and images always come from the same run.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/queue.hpp"

namespace ftdr::host::queue {

// The newest first-sub-batch latents checkpoint in a folder (the engine's latents_i0_step<N>.ckpt;
// only those are resumed, job_folder.hpp) with fewer than `below` steps; nothing when none.
struct LocalCheckpoint {
  int step = 0;
  std::filesystem::path file;
};
std::optional<LocalCheckpoint> newest_local_checkpoint(const std::filesystem::path& dir, int below);

// Stores the checkpoint file as the lease's checkpoint blob. False when the file is gone (the engine
// replaced it meanwhile). Throws the plugin's sdk::Error (invalid_request: over its size cap).
bool upload_checkpoint(sdk::JobQueue& queue, const sdk::Lease& lease, const LocalCheckpoint& checkpoint);

struct StoredCheckpoint {
  int step = 0;
  std::string file_name;  // latents_i0_step<N>.ckpt
  std::string bytes;
  std::string blob;  // its blob's name
};
// The job's stored checkpoint with the most steps; nothing when it has none.
std::optional<StoredCheckpoint> newest_stored_checkpoint(const sdk::JobQueue& queue, std::uint64_t job_id);

// Writes it into a new folder <state_dir>/jobs/queue-<job>-t<token>/ and returns the folder, which
// the engine then takes over (JobRunner::submit's resume_dir). Throws sdk::Error(internal) naming
// the folder when it cannot be written.
std::filesystem::path restore_checkpoint(const StoredCheckpoint& checkpoint,
                                         const std::filesystem::path& state_dir, const sdk::Lease& lease);

// Empties every checkpoint blob of the job (its result is counted: nothing resumes it any more).
// The PNGs stay until the server forgets the job (forget_finished deletes all its blobs).
void clear_checkpoints(sdk::JobQueue& queue, std::uint64_t job_id);

// Uploads each PNG (paths, as in the result's "images") and returns the blob names, in order.
// Throws sdk::Error naming the file and the size cap when one does not fit.
nlohmann::json upload_images(sdk::JobQueue& queue, const sdk::Lease& lease, const nlohmann::json& images);

// Writes blob `name` of the job to `file` (atomically: a temporary file, then a rename). False when
// the queue has no such blob. Throws sdk::Error(internal) naming the file when it cannot be written.
bool fetch_image(const sdk::JobQueue& queue, std::uint64_t job_id, const std::string& name,
                 const std::filesystem::path& file);

}  // namespace ftdr::host::queue
