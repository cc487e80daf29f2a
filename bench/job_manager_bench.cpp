// ftdr_bench_job_manager: JobManager throughput, submit -> complete, with a zero-work backend.
//
// Measures the framework's own cost per job (validation, scheduling through the `priority` plugin,
// the state machine, the engine's phases, results and callbacks), not any model: the backend is the
// scripted test double doing no work. For 1 and 2 workers, 5 runs each of N jobs; prints every run
// and the median jobs/s. Usage: ftdr_bench_job_manager [jobs per run, default 20000]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <spdlog/spdlog.h>

#include "framework/scripted_backend.hpp"
#include "ftdr/framework/jobs/job_manager.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"

using namespace ftdr::framework;

namespace {

double run_once(int workers, int jobs_per_run) {
  auto backend = std::make_shared<ftdr::test::ScriptedBackend>();
  backend->record_calls(false);
  auto engine = std::make_shared<ExecutionEngine>(EnginePlugins{backend, nullptr, nullptr, nullptr});
  PluginLoader loader(PluginRegistry({FTDR_PLUGIN_BUILD_DIR}));
  auto scheduler = loader.create_as<ftdr::sdk::JobScheduler>("priority", nullptr);
  JobManagerConfig cfg;
  cfg.workers = workers;
  cfg.max_queue = 0;
  cfg.keep_finished = 1000;
  JobManager manager(scheduler, engine, cfg);

  std::mutex m;
  std::condition_variable cv;
  int done = 0;
  JobCallbacks cb;
  cb.on_complete = [&](JobId, const JobResult&) {
    std::lock_guard<std::mutex> lock(m);
    if (++done == jobs_per_run) cv.notify_one();
  };
  ftdr::sdk::GenerationRequest request;
  request.prompt = "bench";
  request.width = request.height = 64;
  request.steps = 1;

  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < jobs_per_run; ++i) manager.submit(request, ftdr::sdk::Priority::normal, cb);
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return done == jobs_per_run; });
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  manager.shutdown(ShutdownMode::drain);
  return jobs_per_run / seconds;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const int jobs_per_run = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20000;
  std::printf("JobManager throughput, zero-work backend, priority scheduler, %d jobs per run\n",
              jobs_per_run);
  for (int workers : {1, 2}) {
    std::vector<double> rates;
    for (int run = 0; run < 5; ++run) rates.push_back(run_once(workers, jobs_per_run));
    std::printf("workers=%d runs:", workers);
    for (double r : rates) std::printf(" %.0f", r);
    std::printf("  median %.0f jobs/s\n", median(rates));
  }
  return 0;
}
