// Private to the engine: a job's checkpoint folder, <state_dir>/jobs/<job id>/.
//
// FTDR removes only what it made. The folder is created exclusively on the job's first checkpoint:
// one that already exists (a user's, or another process's) is never written to or removed, and
// the job then runs without checkpoints. At the end only the checkpoint files this job wrote are
// removed, then the folder if nothing else is in it. jobs/ itself stays (it is FTDR's, and another
// process may be using it). Job ids are unique across processes (job_manager.hpp), so two
// processes sharing a state folder get different job folders.
#pragma once
#include <string>

#include "ftdr/framework/jobs/job.hpp"

namespace ftdr::framework::detail {

// The job's folder, created now if this is its first use; "" when there is no state_dir or the
// folder cannot be had (it existed before, or creating it failed: logged once).
std::string claim_job_folder(Job& job, const std::string& state_dir);

// Takes over `dir`, the folder an earlier run of the same job made (a process that ended before
// the job did): its newest checkpoint of the first sub-batch becomes the job's, so diffusion resumes
// there; older ones and those of later sub-batches (the job starts again as one) are removed.
// Nothing when the folder does not exist.
void adopt_job_folder(JobWork& work, const std::string& dir);
// Removes the checkpoint files the job wrote, then its folder when empty. Nothing when the engine
// did not create one.
void release_job_folder(JobWork& work);

}  // namespace ftdr::framework::detail
