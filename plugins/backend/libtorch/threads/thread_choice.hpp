// threads/thread_choice.hpp: which intra-op / BLAS thread split to run with, decided from timings.
//
// Pure C++ (no libtorch, no clock): `threads = 0` measures each candidate split on a short op mix
// at the model's sizes (thread_calibration.hpp) and hands the timings here; the decision, its
// noise handling and the validity of a cached decision are plain functions of their inputs, so
// they are unit-tested without timing anything.
//
//   auto candidates = candidate_splits(cores, /*blas_settable=*/true);
//   ... time each candidate a few times, interleaved ...
//   ThreadDecision d = choose_split(timings);            // d.split, d.reliable
//   cache.put(entry);                                    // d.reliable or not (thread_setup.cpp)
//   if (auto hit = cache.find(machine, workload)) ...    // a later load on the same machine
//
// The rules:
//   - a candidate's time is its fastest round: on a shared machine noise only ever adds time (a
//     descheduled thread, another tenant), so the fastest round is the best estimate of what the
//     split can do, and one slow round never decides. (The median did not do: on a 2-core EPYC the
//     rounds of every split spread 265-430 ms, the lowest median was 1:2's by noise, and the UNet
//     step ran 1.27x slower on it than on 2:2, whose fastest round was the fastest by 8%.) One
//     clearly slower after the first round is not timed again (worth_more_rounds);
//   - candidates within kTieTolerance of the fastest are ties, and the tie with the fewest threads
//     wins (intra-op + BLAS): on a shared machine fewer threads leave cores to others and suffer
//     less when a spinning pool loses a core. Between as many threads, the one with more intra-op
//     threads: libtorch's pool runs everything outside the mix too (convolutions, oneDNN Linears,
//     norms, softmax), BLAS only the attention GEMMs. (On the 2-core EPYC the mix timed 1:2 and 2:1
//     within 1%, and the SD-1.5-size UNet step ran 22.0 s on 1:2 against 15.0 s on 2:1.)
//   - a split whose BLAS runs several threads counts kMultiThreadedBlasPenalty slower than timed. The
//     mix alternates BLAS and libtorch's pool once per round, the real networks dozens of times per
//     step, and each time the BLAS's spinning threads hold cores the pool then waits for; and only
//     with a one-thread BLAS do attention heads and a batch's projections run side by side
//     (nn/gemm_workers.hpp), which the mix (one head, one image) shows only in part. On the 2-core
//     EPYC the mix timed 2/2 within +-5% of 2/1 while the SD-1.5-size UNet step ran 17.6 s on 2/2
//     and 13.1 s on 2/1 (VAE decode 25.9 s against 18.0 s). Part of that was the calibration's
//     own doing, mended since (format 4): each split was timed right after the previous one, whose
//     threads still spun (thread_calibration.cpp); with a round untimed after each switch the mix
//     times 2/1 at 108-114 ms against 2/2's 144-225 ms there;
//   - the decision is reliable when every candidate's samples spread less than kMaxSpread of its
//     median; an unreliable one is used and cached all the same (the split changes the pixels, so
//     it must not change between the processes that run one job), and `ftdr doctor` says so;
//   - a cached entry counts only for the same machine (CPU model, usable cores, libtorch version,
//     BLAS library), the same workload (the model's sizes and dtype), the current format, and a
//     split that is still one of the candidates.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ftdr::torchbe {

struct ThreadSplit {
  int intra_op = 1;  // at::set_num_threads
  int blas = 0;      // openblas_set_num_threads; 0 = left as the BLAS library has it (not OpenBLAS)
  bool operator==(const ThreadSplit& o) const { return intra_op == o.intra_op && blas == o.blas; }
  bool operator!=(const ThreadSplit& o) const { return !(*this == o); }
};

// "2 intra-op / 1 BLAS" (or "2 intra-op / BLAS unchanged").
std::string to_string(const ThreadSplit& split);

// Intra-op counts {1, cores/2, cores} (distinct, >= 1), each with BLAS counts {1, intra-op, cores}
// when the BLAS thread count can be set, else BLAS 0. Two cores: 1/1, 1/2, 2/1, 2/2.
std::vector<ThreadSplit> candidate_splits(int cores, bool blas_settable);

struct SplitTiming {
  ThreadSplit split;
  std::vector<double> seconds;  // one entry per timed round; non-finite or <= 0 entries are ignored
};

// The median and the fastest of a timing's usable samples; nullopt when it has none.
std::optional<double> median_seconds(const SplitTiming& timing);
std::optional<double> fastest_seconds(const SplitTiming& timing);

// After the first timed round, the candidates worth more rounds: those whose first round is within
// `factor` of the fastest first round. One 50% slower than the best is not going to win; it keeps
// its one sample, and the calibration's time goes to the contenders (on a loaded machine a split
// that oversubscribes the cores can be ten times slower per round).
inline constexpr double kDropFactor = 1.5;
std::vector<bool> worth_more_rounds(const std::vector<SplitTiming>& first_round, double factor = kDropFactor);

inline constexpr double kTieTolerance = 0.05;              // within 5% of the fastest: a tie
inline constexpr double kMultiThreadedBlasPenalty = 0.10;  // BLAS > 1 thread: its time counted 10% longer
inline constexpr double kMaxSpread = 0.5;  // (max - min) / median above this: noisy (said, still cached)

struct ThreadDecision {
  ThreadSplit split;
  bool reliable = false;  // see kMaxSpread
  std::string reason;     // one line for diagnostics: the winner, ties, noise
};

// nullopt when no candidate has a usable sample (then libtorch's defaults stay).
std::optional<ThreadDecision> choose_split(const std::vector<SplitTiming>& timings,
                                           double tie_tolerance = kTieTolerance,
                                           double max_spread = kMaxSpread,
                                           double blas_penalty = kMultiThreadedBlasPenalty);

// What a cached decision is valid for.
struct MachineKey {
  std::string cpu_model;  // /proc/cpuinfo "model name"
  int cores = 0;          // CPUs this process may run on (sched_getaffinity)
  std::string libtorch;   // TORCH_VERSION
  std::string blas;       // describe_blas()
  bool operator==(const MachineKey& o) const {
    return cpu_model == o.cpu_model && cores == o.cores && libtorch == o.libtorch && blas == o.blas;
  }
};

struct ThreadCacheEntry {
  MachineKey machine;
  std::string workload;  // calibration workload: the model's sizes and dtype (thread_calibration.hpp)
  ThreadSplit split;
  std::vector<SplitTiming> timings;  // what the decision was made from, for diagnostics
};

// The cache file's contents: one entry per machine and workload (a state_dir may be shared by
// several machines or models). Newest first, at most kMaxCacheEntries.
class ThreadCache {
 public:
  // 4: a round untimed after each switch, small UNets timed on a real step; 3: BLAS > 1 penalised,
  // heads side by side; 2: fastest round; 1: median.
  static constexpr int kFormat = 4;
  static constexpr std::size_t kMaxCacheEntries = 16;

  // An empty cache when `doc` is not a cache of this format (a corrupt or older file is ignored:
  // the decision is measured again and the file rewritten).
  static ThreadCache from_json(const nlohmann::json& doc);
  nlohmann::json to_json() const;

  // The entry for this machine and workload whose split is still a candidate, if any.
  std::optional<ThreadCacheEntry> find(const MachineKey& machine, const std::string& workload,
                                       bool blas_settable) const;
  // Replaces the entry of the same machine and workload (or adds it), newest first.
  void put(ThreadCacheEntry entry);
  const std::vector<ThreadCacheEntry>& entries() const { return entries_; }

 private:
  std::vector<ThreadCacheEntry> entries_;
};

}  // namespace ftdr::torchbe
