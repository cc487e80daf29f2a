// Private to the engine: failure classification and how a recovery decision changes a job's work.
#pragma once
#include <exception>
#include <vector>

#include "ftdr/framework/jobs/job.hpp"
#include "ftdr/sdk/recovery.hpp"

namespace ftdr::framework::detail {

// sdk::Error keeps its kind; std::bad_alloc is out_of_memory; anything else is internal.
sdk::Failure classify_failure(std::exception_ptr error, sdk::Phase phase, int step);

// Kinds that are never retried, whatever the strategy would say (sdk/error.hpp).
bool never_retried(sdk::ErrorKind kind);

// Latents made with `a` can continue or be decoded with `b`: same sub-batch, size and sampling.
bool latents_compatible(const sdk::GenerationParams& a, const sdk::GenerationParams& b);
// Conditioning encoded with `a` serves `b`: same prompts, clip_skip and dtype.
bool conditioning_compatible(const sdk::GenerationParams& a, const sdk::GenerationParams& b);

// The two halves of a sub-batch (the first gets the odd image); one piece when batch < 2.
std::vector<sdk::GenerationParams> split_in_halves(const sdk::GenerationParams& params);

// Applies a retry decision to the work of the failed attempt: new parameters for the failing
// sub-batch (split when asked) and the ones after it, and drops the artifacts that no longer fit.
// A decision that shrinks the sub-batch without split_batch gets the remaining images queued as
// one more sub-batch, so no image of the request is lost.
// Removed checkpoint files are deleted.
void apply_decision(JobWork& work, const sdk::RecoveryDecision& decision);

// Forgets segments.front()'s latents and deletes its checkpoint file.
void drop_latents(JobWork& work);

}  // namespace ftdr::framework::detail
