// tests/recovery/recovery_rig.hpp: end-to-end recovery tests on the real libtorch backend.
//
// A Rig is what `ftdr generate` builds, from a config text: the real plugins (libtorch, sequential,
// progressive, overlap, priority) created by the framework's loader from FTDR_PLUGIN_BUILD_DIR with
// their config tables (so [faults] reaches the backend the way it does for users), the backend
// loaded with the reference tiny-sd1 pipeline, an ExecutionEngine and a JobManager. run() submits
// one request and condenses what happened into a Trace whose fields compare as plain strings:
//
//   Rig rig(model_dir, dir, "[faults]\noom = \"diffusion:step=2\"\n");
//   Trace t = rig.run(small_request(4));
//   EXPECT_EQ(t.states, "IDLE INITIALIZING ENCODING_PROMPT DIFFUSION_RUNNING RETRY_PENDING ...");
#pragma once
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "common/reference.hpp"
#include "ftdr/framework/config/config.hpp"
#include "ftdr/framework/engine/execution_engine.hpp"
#include "ftdr/framework/jobs/job_manager.hpp"
#include "ftdr/framework/output/png_sink.hpp"
#include "ftdr/framework/plugins/plugin_set.hpp"

namespace ftdr::test {

namespace fw = ftdr::framework;

// Settings for a Rig besides the config text.
struct RigOptions {
  int workers = 1;
  int checkpoint_every = 0;
  double step_timeout_ms = 0;
  bool png = false;           // write PNGs through the host's sink
  std::string dtype = "f32";  // [backend.libtorch] dtype
  int threads = 0;            // [backend.libtorch] threads (0: measured by the backend)
};

// The host's [recovery.progressive] with fast, jitter-free backoff unless a test sets its own.
inline std::string fast_recovery(const std::string& extra = "") {
  return "[recovery.progressive]\nbackoff_initial_ms = 1\nbackoff_max_ms = 1\njitter = 0\n" + extra;
}

inline std::filesystem::path fresh_test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() / "ftdr_recovery" /
             (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A small, fast request: 64x64, no classifier-free guidance pass unless asked.
inline sdk::GenerationRequest small_request(int steps, double cfg = 1.0) {
  sdk::GenerationRequest r;
  r.prompt = "a red square";
  r.width = r.height = 64;
  r.steps = steps;
  r.cfg_scale = cfg;
  r.seed = 11;
  return r;
}

// What one job did, as comparable strings.
struct Trace {
  fw::JobResult result;
  std::string states;                 // "IDLE INITIALIZING ..."
  std::vector<std::string> attempts;  // "out_of_memory in diffusion at step 1 -> <change>"
  std::vector<int> progress;          // every on_progress step, in order
  int diffusion_steps() const { return static_cast<int>(progress.size()); }
};

inline std::string states_text(const std::vector<fw::StateStamp>& stamps) {
  std::string out;
  for (const auto& s : stamps) out += (out.empty() ? "" : " ") + std::string(fw::to_string(s.state));
  return out;
}

inline std::string attempt_text(const sdk::Attempt& a) {
  return std::string(sdk::to_string(a.failure.kind)) + " in " + std::string(sdk::to_string(a.failure.phase)) +
         " at step " + std::to_string(a.failure.step) + " -> " + (a.change.empty() ? "(gave up)" : a.change);
}

inline std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// VmRSS of this process in bytes (0 when /proc is unavailable).
inline std::uint64_t rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

class Rig {
 public:
  // `config` is appended to a base config naming the plugins, the plugin build folder and the
  // state folder under `dir`. Plugin problems fail the calling test (ADD_FAILURE) and leave ok() false.
  Rig(const std::filesystem::path& model_dir, const std::filesystem::path& dir, const std::string& config,
      RigOptions options = {})
      : dir_(dir) {
    const std::string text =
        "[runtime]\nstate_dir = \"" + (dir / "state").string() + "\"\n" + "[plugins]\nsearch_path = [\"" +
        std::string(FTDR_PLUGIN_BUILD_DIR) + "\"]\n" +
        "[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\ndevice = \"cpu\"\ndtype = \"" + options.dtype +
        "\"\nthreads = " + std::to_string(options.threads) + "\n" +
        "[scheduler]\nplugin = \"priority\"\n[memory]\npolicy = \"sequential\"\n" +
        "[recovery]\nplugin = \"progressive\"\n[tiling]\nplugin = \"overlap\"\n" + config;
    cfg_ = std::make_unique<fw::Config>(fw::Config::parse(text, dir / "ftdr.toml"));
    std::vector<std::string> problems;
    plugins_ = fw::create_plugins(*cfg_, fw::make_loader(cfg_->host()), problems);
    for (const auto& p : problems) ADD_FAILURE() << p;
    if (!problems.empty() || !plugins_.complete()) return;
    plugins_.backend->load(model_dir.string());
    fw::EngineConfig ec;
    ec.checkpoint_every = options.checkpoint_every;
    ec.state_dir = (dir / "state").string();
    ec.step_timeout_ms = options.step_timeout_ms;
    if (options.png) ec.image_sink = fw::make_png_sink(plugins_.backend->info());
    engine_ = std::make_shared<fw::ExecutionEngine>(
        fw::EnginePlugins{plugins_.backend, plugins_.memory_policy, plugins_.recovery, plugins_.tiling}, ec);
    fw::JobManagerConfig jc;
    jc.workers = options.workers;
    jc.keep_finished = 0;
    jobs_ = std::make_unique<fw::JobManager>(plugins_.scheduler, engine_, jc);
  }
  ~Rig() {
    if (jobs_) jobs_->shutdown(fw::ShutdownMode::cancel);
  }

  bool ok() const { return jobs_ != nullptr; }
  fw::JobManager& jobs() { return *jobs_; }
  sdk::ModelBackend& backend() { return *plugins_.backend; }
  const std::filesystem::path& dir() const { return dir_; }

  // Submits the request, waits (up to `timeout`) for its result and condenses it. A job that never
  // finishes fails the calling test and returns an empty trace.
  Trace run(sdk::GenerationRequest request, std::chrono::seconds timeout = std::chrono::seconds(60),
            fw::JobCallbacks callbacks = {}) {
    auto progress = std::make_shared<Progress>();
    auto user = callbacks.on_progress;
    callbacks.on_progress = [progress, user](fw::JobId id, int step, int total) {
      {
        std::lock_guard<std::mutex> lock(progress->mutex);
        progress->steps.push_back(step);
      }
      if (user) user(id, step, total);
    };
    if (request.output_dir == "outputs") request.output_dir = (dir_ / "out").string();
    const fw::JobId id = jobs_->submit(request, sdk::Priority::normal, callbacks);
    Trace t;
    auto result = jobs_->result(id, timeout);
    if (!result) {
      ADD_FAILURE() << "job " << id << " did not finish within " << timeout.count() << " s";
      return t;
    }
    t.result = *result;
    t.states = states_text(result->metrics.states);
    for (const auto& a : result->attempts) t.attempts.push_back(attempt_text(a));
    std::lock_guard<std::mutex> lock(progress->mutex);
    t.progress = progress->steps;
    return t;
  }

 private:
  struct Progress {
    std::mutex mutex;
    std::vector<int> steps;
  };
  std::filesystem::path dir_;
  std::unique_ptr<fw::Config> cfg_;
  fw::PluginSet plugins_;
  std::shared_ptr<fw::ExecutionEngine> engine_;
  std::unique_ptr<fw::JobManager> jobs_;
};

// The reference pipeline these tests run on; skips the test (naming the folder) when absent.
#define FTDR_REQUIRE_TINY_SD1(var)    \
  FTDR_REQUIRE_REFERENCE(var##_root); \
  const std::filesystem::path var = var##_root / "tiny-sd1"

}  // namespace ftdr::test
