// threads/thread_setup.cpp: see thread_setup.hpp.
#include "threads/thread_setup.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "adapter/blas_info.hpp"
#include "adapter/memory_stats.hpp"

namespace ftdr::torchbe {
namespace {

namespace fs = std::filesystem;

ThreadCache read_cache(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  const nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return ThreadCache::from_json(doc);
}

// "" when written, else why not.
std::string write_cache(const std::string& path, const ThreadCache& cache) {
  const fs::path target(path);
  const fs::path tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    fs::create_directories(target.parent_path());
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << cache.to_json().dump(2) << "\n";
      out.flush();
      if (!out) return "cannot write " + tmp.string();
    }
    fs::rename(tmp, target);
    return "";
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    return e.what();
  }
}

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", s);
  return text;
}

// The rounds, timed on a thread of their own that ends with them, as a job runs on a host's worker
// thread beside no other OpenMP team. libgomp keeps an idle team thread spinning for milliseconds
// while its pooled threads are no more than the cores, and only briefly beyond. Timed on the loading
// thread, the rounds left that thread's team alive: that process's jobs ran beside two teams (short
// spins), a later process's (split read from the cache) beside one, and the demo model's 2/2 split
// (16.7 ms a round) spent 1.1-2.6 s in 20 steps of `ftdr generate`, its OpenMP thread spinning
// against OpenBLAS's, against 0.39 s with the same split set by `threads = 2`.
std::vector<SplitTiming> time_on_own_thread(const std::function<void()>& round,
                                            const std::vector<ThreadSplit>& candidates) {
  std::vector<SplitTiming> timings;
  std::exception_ptr failure;
  std::thread rounds([&] {
    try {
      timings = time_splits(round, candidates);
    } catch (...) {
      failure = std::current_exception();
    }
  });
  rounds.join();
  // The rounds' buffers (the op mix's attention scores: 2 x 64 MB at SD-1.5's first level) were
  // freed into that thread's malloc arena and the CPU block cache, where a job on another thread
  // would not reuse them: returned now (an SD-1.5 VAE decode's process peak 1043 -> 985 MB, the
  // text encoder's resident memory after the rounds 920 -> 704 MB).
  release_cached_memory(at::kCPU);
  if (failure) std::rethrow_exception(failure);
  return timings;
}

ThreadReport measure(const CalibrationWorkload& workload, const UNet2DConditionModel& unet,
                     const MachineKey& machine, bool blas_settable, const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  ThreadReport report;
  report.timings =
      time_on_own_thread(calibration_round(workload, unet), candidate_splits(machine.cores, blas_settable));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto decision = choose_split(report.timings);
  if (!decision) {  // no usable sample at all: leave one intra-op thread, BLAS as it was
    report.split = {1, 0};
    report.how = "measured now in " + seconds_text(took) + ", no usable timing";
    return report;
  }
  report.split = decision->split;
  report.decision = decision->reason;
  report.how = "measured now in " + seconds_text(took) + " (rounds of " + workload.describe() + ")";
  if (path.empty()) return report;
  // Cached even when the timings were noisy: the split changes the pixels (reductions are cut
  // differently), so a job resumed by a later process must run with the split it started with.
  // A choice made on a busy machine (its reason says "noisy timings") stays until the file is removed.
  ThreadCache cache = read_cache(path);
  cache.put({machine, workload.key(), decision->split, report.timings});
  const std::string problem = write_cache(path, cache);
  report.how += problem.empty() ? ", cached in " + path : "; not cached: " + problem;
  return report;
}

}  // namespace

std::string thread_cache_path(const std::string& state_dir) {
  return state_dir.empty() ? std::string() : (fs::path(state_dir) / "libtorch_threads.json").string();
}

std::string summarize_timings(const std::vector<SplitTiming>& timings) {
  std::string out;
  for (const auto& t : timings) {
    const auto fastest = fastest_seconds(t);
    if (!fastest) continue;
    char text[64];
    std::snprintf(text, sizeof text, "%s%d/%d %.1f ms", out.empty() ? "" : ", ", t.split.intra_op,
                  t.split.blas, *fastest * 1e3);
    out += text;
  }
  return out;
}

ThreadReport choose_threads(const CalibrationWorkload& workload, const std::string& state_dir,
                            const UNet2DConditionModel& unet) {
  static std::mutex mutex;
  static std::map<std::string, ThreadReport> decided;  // per cache file and workload, this process
  std::lock_guard<std::mutex> lock(mutex);
  const std::string path = thread_cache_path(state_dir);
  const std::string key = workload.key();
  const std::string memo_key = path + "\n" + key;
  if (auto it = decided.find(memo_key); it != decided.end()) {
    apply_split(it->second.split);
    return it->second;
  }
  const MachineKey machine = this_machine();
  const bool blas_settable = openblas_threads() > 0;
  ThreadReport report;
  if (auto hit = path.empty() ? std::nullopt : read_cache(path).find(machine, key, blas_settable)) {
    report.split = hit->split;
    report.how = "from " + path;
    if (auto d = choose_split(hit->timings)) report.decision = d->reason;
    report.timings = hit->timings;
  } else {
    report = measure(workload, unet, machine, blas_settable, path);
  }
  apply_split(report.split);
  decided[memo_key] = report;
  return report;
}

}  // namespace ftdr::torchbe
