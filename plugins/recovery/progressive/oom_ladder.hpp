// oom_ladder.h: the rungs of the out-of-memory ladders and when each one applies.
//
// After an OOM in a phase, the strategy walks that phase's ladder in its configured order and takes
// the first rung that still changes something. Whether a rung is used up is read from the failed
// attempt's parameters (which carry every earlier change), not from object state, so one strategy
// object serves any number of jobs and each sub-batch of a split job independently:
//   offload            applies while this is the phase's first OOM in the job's history. Changes no
//                      parameter: the engine empties the cache and the memory policy places again
//                      (sequential offload of the other components is the memory policy's job; the
//                      parameters cannot carry placement).
//   slicing            applies while attention is not sliced: attention = sliced,
//                      attention_slice_size = slice_size (0 = the backend's choice).
//   smaller_slices     applies unless attention is already sliced with 1..small_slice_size rows:
//                      attention = sliced, attention_slice_size = small_slice_size. It stands in for
//                      "sequential offload" inside the attention: less memory, more time.
//   split_batch        applies while batch > 1: split_batch = true; the engine runs params.batch as
//                      ceil(b/2) + floor(b/2) images, one after the other (a half that fails again
//                      comes back here with its own batch and may split again).
//   reduce_resolution  applies while both sides scaled by resolution_factor and rounded down to a
//                      multiple of size_multiple stay >= min_size: width/height lowered, degraded.
//   tiling             applies while vae_tiling is off: vae_tiling = true; decoding resumes from the
//                      finished latents (diffusion is never run again for a decoding OOM).
// Every rung resumes at the phase that failed.
#pragma once
#include <vector>

#include "ftdr/sdk/recovery.hpp"
#include "progressive_settings.hpp"

namespace ftdr::plugins {

// If `rung` changes something for this failure, edits `decision` (params, split_batch, degraded,
// change) and returns true; returns false and leaves `decision` alone otherwise.
bool apply_rung(Rung rung, const sdk::Failure& failure, const std::vector<sdk::Attempt>& history,
                const ProgressiveSettings& settings, sdk::RecoveryDecision& decision);

// Rounds `pixels * factor` down to a multiple of `multiple`.
int scaled_size(int pixels, double factor, int multiple);

}  // namespace ftdr::plugins
