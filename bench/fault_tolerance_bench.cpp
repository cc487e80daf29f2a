// ftdr_bench_fault_tolerance: what the memory policies, checkpoints and recovery cost, on the real
// libtorch plugin loaded as the host loads it (ExecutionEngine driven directly, one job at a time).
//
//   ftdr_bench_fault_tolerance [--device cpu|cuda] [--model DIR] [--steps N] [--size PX]
//                              [--repeats N] [--what policies,checkpoint,recovery]
//
//   policies    per memory policy (sequential, resident, adaptive): the peak memory of every phase
//               (CPU: peak RSS of the process during the phase; CUDA: the caching allocator's peak)
//               and the activation part of it (peak minus RSS / allocated when the phase's work
//               started), and the median end-to-end time of a job.
//   checkpoint  diffusion time with a latents checkpoint every 5 steps vs none, median of --repeats
//               (runs interleaved); goal: overhead < 3 %.
//   recovery    a job whose first decode fails with an injected out-of-memory (FTDR_FAULTS=
//               "oom=decode", the progressive recovery retries from the decoding phase with the
//               latents it kept): time from the failure to the finished images, vs the median time
//               of the whole clean job (what re-running from scratch costs).
// Defaults: the demo model (models/ftdr-shapes) at its default size, 20 steps, 5 repeats.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "ftdr/framework/config/config.hpp"
#include "ftdr/framework/engine/execution_engine.hpp"
#include "ftdr/framework/plugins/plugin_set.hpp"

namespace fs = std::filesystem;
namespace fw = ftdr::framework;
namespace sdk = ftdr::sdk;

namespace {

struct Options {
  std::string device = "cpu";
  std::string model = std::string(FTDR_SOURCE_DIR) + "/models/ftdr-shapes";
  int steps = 20;
  int size = 0;  // 0 = the model's default
  int repeats = 5;
  std::string what = "policies,checkpoint,recovery";
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double mib(std::uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

// Everything a run needs: plugins from the build tree, a fresh state folder.
struct Setup {
  fw::PluginSet plugins;
  fs::path state;
};

Setup make_setup(const Options& o, const std::string& policy) {
  static int counter = 0;
  Setup s;
  s.state = fs::temp_directory_path() /
            ("ftdr_bench_ft_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::create_directories(s.state);
  const std::string text = "[plugins]\nsearch_path = [\"" + std::string(FTDR_PLUGIN_BUILD_DIR) + "\"]\n" +
                           "[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\ndevice = \"" + o.device +
                           "\"\n" + "[scheduler]\nplugin = \"fifo\"\n[memory]\npolicy = \"" + policy +
                           "\"\n" + "[recovery]\nplugin = \"progressive\"\n[tiling]\nplugin = \"overlap\"\n";
  fw::Config cfg = fw::Config::parse(text, s.state / "bench.toml");
  std::vector<std::string> problems;
  s.plugins = fw::create_plugins(cfg, fw::make_loader(cfg.host()), problems);
  if (!problems.empty()) throw std::runtime_error(problems.front());
  s.plugins.backend->load(o.model);
  return s;
}

sdk::GenerationRequest request(const Options& o, const sdk::ModelInfo& info) {
  sdk::GenerationRequest r;
  r.prompt = "a large red circle";
  r.width = r.height = o.size > 0 ? o.size : info.default_size;
  r.steps = o.steps;
  r.seed = 42;
  return r;
}

struct Run {
  fw::JobResult result;
  double wall_ms = 0;      // first attempt to the terminal state, retry delays included
  double recovery_ms = 0;  // from the end of the failed attempt to the terminal state
};

// Runs one job to its end, waiting out retry delays like the JobManager's timers would.
Run run_job(fw::ExecutionEngine& engine, const sdk::GenerationRequest& req, fw::JobId id) {
  fw::Job job(id, req, sdk::Priority::normal);
  const auto t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point failed_at{};
  fw::AttemptOutcome o = engine.run_attempt(job);
  while (o.state == fw::ExecutionState::retry_pending) {
    if (failed_at == std::chrono::steady_clock::time_point{}) failed_at = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(o.retry_delay_ms));
    o = engine.run_attempt(job);
  }
  const auto t1 = std::chrono::steady_clock::now();
  Run r;
  r.result = *o.result;
  r.wall_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  if (failed_at != std::chrono::steady_clock::time_point{})
    r.recovery_ms = std::chrono::duration<double, std::milli>(t1 - failed_at).count();
  if (!r.result.ok()) throw std::runtime_error("job failed: " + r.result.error_message);
  return r;
}

double phase_ms(const fw::JobResult& r, sdk::Phase phase) {
  double ms = 0;
  for (const auto& p : r.metrics.phases)
    if (p.phase == phase) ms += p.ms;
  return ms;
}

void bench_policies(const Options& o) {
  std::printf("\n== memory policies (%s, %s): peak per phase (last run), median end-to-end of %d ==\n",
              o.device.c_str(), fs::path(o.model).filename().c_str(), o.repeats);
  std::printf("%-11s %-13s %12s %14s %10s\n", "policy", "phase", "peak MiB", "activation MiB", "phase ms");
  for (const char* policy : {"sequential", "resident", "adaptive"}) {
    Setup s = make_setup(o, policy);
    fw::EngineConfig ec;
    ec.state_dir = (s.state / "state").string();
    fw::ExecutionEngine engine(
        {s.plugins.backend, s.plugins.memory_policy, s.plugins.recovery, s.plugins.tiling}, ec);
    const auto req = request(o, engine.model_info());
    run_job(engine, req, 1);  // warm-up: first-touch allocations, lazy initialisation
    std::vector<double> e2e;
    Run last;
    for (int i = 0; i < o.repeats; ++i) {
      last = run_job(engine, req, 2 + i);
      e2e.push_back(last.wall_ms);
    }
    for (const auto& p : last.result.metrics.phases) {
      std::printf("%-11s %-13s %12.1f %14.1f %10.1f\n", policy, std::string(sdk::to_string(p.phase)).c_str(),
                  mib(p.after.peak_bytes), mib(p.measured_activation_bytes), p.ms);
    }
    std::printf("%-11s %-13s %12s %14s %10.1f\n", policy, "end-to-end", "", "", median(e2e));
    fs::remove_all(s.state);
  }
}

void bench_checkpoint(const Options& o) {
  Setup s = make_setup(o, "resident");
  fw::EngineConfig none, every5;
  none.state_dir = every5.state_dir = (s.state / "state").string();
  every5.checkpoint_every = 5;
  const fw::EnginePlugins plugins{s.plugins.backend, s.plugins.memory_policy, s.plugins.recovery,
                                  s.plugins.tiling};
  fw::ExecutionEngine plain(plugins, none), checkpointed(plugins, every5);
  const auto req = request(o, plain.model_info());
  run_job(plain, req, 1);
  std::vector<double> a, b;
  for (int i = 0; i < o.repeats; ++i) {  // interleaved, so drift hits both alike
    a.push_back(phase_ms(run_job(plain, req, 10 + i).result, sdk::Phase::diffusion));
    Run c = run_job(checkpointed, req, 100 + i);
    b.push_back(phase_ms(c.result, sdk::Phase::diffusion));
    if (i == 0) std::printf("\n(checkpoints written per job: %zu)\n", c.result.metrics.checkpoints.size());
  }
  const double ma = median(a), mb = median(b);
  std::printf("== checkpoint overhead (%s, %d steps, median of %d) ==\n", o.device.c_str(), o.steps,
              o.repeats);
  std::printf("diffusion, no checkpoint:      %10.1f ms\n", ma);
  std::printf("diffusion, checkpoint every 5: %10.1f ms\n", mb);
  std::printf("overhead:                      %+10.2f %%  (goal < 3 %%)\n",
              ma > 0 ? 100.0 * (mb - ma) / ma : 0.0);
  fs::remove_all(s.state);
}

void bench_recovery(const Options& o) {
  std::vector<double> scratch, recover, delays;
  Setup clean = make_setup(o, "resident");
  fw::EngineConfig ec;
  ec.state_dir = (clean.state / "state").string();
  fw::ExecutionEngine engine(
      {clean.plugins.backend, clean.plugins.memory_policy, clean.plugins.recovery, clean.plugins.tiling}, ec);
  const auto req = request(o, engine.model_info());
  run_job(engine, req, 1);
  for (int i = 0; i < o.repeats; ++i) scratch.push_back(run_job(engine, req, 10 + i).wall_ms);
  std::string change;
  for (int i = 0; i < o.repeats; ++i) {
    ::setenv("FTDR_FAULTS", "oom=decode", 1);  // read once, when the backend is created
    Setup faulty = make_setup(o, "resident");
    ::unsetenv("FTDR_FAULTS");
    fw::EngineConfig fc;
    fc.state_dir = (faulty.state / "state").string();
    fw::ExecutionEngine fe({faulty.plugins.backend, faulty.plugins.memory_policy, faulty.plugins.recovery,
                            faulty.plugins.tiling},
                           fc);
    Run r = run_job(fe, req, 1);
    if (r.result.attempts.empty()) throw std::runtime_error("the injected decode OOM did not fire");
    recover.push_back(r.recovery_ms);
    delays.push_back(static_cast<double>(r.result.attempts.front().delay_ms));
    change = r.result.attempts.front().change;
    fs::remove_all(faulty.state);
  }
  const double ms = median(scratch), mr = median(recover);
  std::printf("\n== recovery from an injected decode OOM (%s, median of %d) ==\n", o.device.c_str(),
              o.repeats);
  std::printf("recovery decision: %s (retry delay %.0f ms)\n", change.c_str(), median(delays));
  std::printf("failure -> images (retry from decoding): %10.1f ms\n", mr);
  std::printf("re-running the whole job from scratch:   %10.1f ms\n", ms);
  std::printf("recovery / scratch:                      %10.3f\n", ms > 0 ? mr / ms : 0.0);
  fs::remove_all(clean.state);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--device")
      o.device = v;
    else if (k == "--model")
      o.model = v;
    else if (k == "--steps")
      o.steps = std::atoi(v.c_str());
    else if (k == "--size")
      o.size = std::atoi(v.c_str());
    else if (k == "--repeats")
      o.repeats = std::max(1, std::atoi(v.c_str()));
    else if (k == "--what")
      o.what = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (o.device != "cpu" && o.device != "cuda") {
    std::fprintf(stderr, "--device: cpu or cuda\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  try {
    if (o.what.find("policies") != std::string::npos) bench_policies(o);
    if (o.what.find("checkpoint") != std::string::npos) bench_checkpoint(o);
    if (o.what.find("recovery") != std::string::npos) bench_recovery(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
