// threads/thread_setup.hpp: `threads = 0` end to end: find or measure the split, apply it, report it.
//
//   ThreadReport r = choose_threads(calibration_workload(folder.unet, dtype), ctx.state_dir, model.unet);
//   // r.split is now in effect; r.how and r.decision are diagnostics lines
//
// The decision is looked up, in order, in this process (every backend of a process shares the
// threads, and a second worker must not time while the first does), then in
// <state_dir>/libtorch_threads.json (thread_choice.hpp: ThreadCache, keyed by machine and
// workload), and is measured (thread_calibration.hpp; on a thread of its own, as jobs run on a
// host's worker thread: thread_setup.cpp says why) only when neither has it. The measurement,
// noisy or not (the split must not change between the processes of one job), is written to the
// file (temporary file + rename, so a reader never sees half of it); a file that cannot be written
// costs a measurement at the next start, nothing else.
// Without a state_dir the decision lives in this process only.
#pragma once
#include <string>
#include <vector>

#include "threads/thread_calibration.hpp"
#include "threads/thread_choice.hpp"

namespace ftdr::torchbe {

struct ThreadReport {
  ThreadSplit split;                 // in effect after choose_threads
  std::string how;                   // where the decision came from (measured now / the cache file)
  std::string decision;              // ThreadDecision::reason
  std::vector<SplitTiming> timings;  // the measurement it was decided from
};

// "<state_dir>/libtorch_threads.json"; "" without a state_dir.
std::string thread_cache_path(const std::string& state_dir);

// `unet`: the loaded UNet the workload was made from; a workload whose round is a real step
// (thread_calibration.hpp) times it when there is no decision yet (std::invalid_argument without it).
ThreadReport choose_threads(const CalibrationWorkload& workload, const std::string& state_dir,
                            const UNet2DConditionModel& unet);

// "1/1 12.3 ms, 2/1 8.1 ms, ..." (the fastest round per candidate, intra-op/BLAS).
std::string summarize_timings(const std::vector<SplitTiming>& timings);

}  // namespace ftdr::torchbe
