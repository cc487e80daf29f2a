// ftdr_bench_workers: what worker processes ([workers] count = N, docs/workers.md) cost and buy.
//
//  1. Throughput: 200 jobs from 8 clients on the zero-work test backend, in-process (count = 0) and
//     with 1, 2 and 4 worker processes: jobs/s from the first submission to the last completion.
//  2. Take-over: a job runs on one of two workers (checkpoint every step); that worker is killed
//     (SIGKILL) mid-diffusion; the time until the job makes progress again on the other one.
//  3. Overhead on the embedded demo model: one 64x64, 20-step job, in-process and in a worker
//     process, `run_ms` of the job as the server reports it, interleaved.
//
// Prints medians of `rounds` runs (default 5). Usage: ftdr_bench_workers [rounds]
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "integration/cli_runner.hpp"
#include "integration/serve_workers_support.hpp"

using namespace ftdr::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Jobs/s: `jobs` zero-work jobs from `clients` threads, until all completed.
double throughput(int workers, int jobs, int clients) {
  ServeOptions o;
  o.steps = 1;
  o.queue_capacity = 100000;
  if (workers > 0) o.extra = "[workers]\ncount = " + std::to_string(workers) + "\n";
  ServeProcess server(fresh_dir("bench_workers_" + std::to_string(workers)), o);
  const int port = server.port();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = c; i < jobs; i += clients) submit_job(port, {{"prompt", "bench"}, {"seed", i}});
    });
  for (auto& t : threads) t.join();
  while (json_of(http(port, "GET", "/v1/jobs?state=completed&limit=1000"))["jobs"].size() <
         static_cast<std::size_t>(jobs))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const double seconds = ms_since(start) / 1000;
  server.stop();
  return jobs / seconds;
}

// Milliseconds from SIGKILL of the worker running the job to the job's next step.
double take_over_ms() {
  ServeOptions o = worker_options("", "", 2);
  o.steps = 40;
  o.step_ms = 50;
  ServeProcess server(fresh_dir("bench_workers_takeover"), o);
  const int port = server.port();
  const std::int64_t id = submit_job(port, {{"prompt", "take over"}});
  int step = 0;
  pid_t victim = 0;
  while (victim == 0) {
    const json s = job_status(port, id);
    step = s.value("step", 0);
    if (step >= 5)
      for (const auto& w : workers_of(port))
        if (w.value("job", json()) == id) victim = w["pid"];
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto killed = Clock::now();
  ::kill(victim, SIGKILL);
  for (;;) {  // running again: on a worker that is not the victim, past the checkpoint it resumed from
    const json s = job_status(port, id);
    bool elsewhere = false;
    for (const auto& w : workers_of(port)) elsewhere |= w.value("job", json()) == id && w["pid"] != victim;
    if (elsewhere && s.value("state", "") == "diffusion_running" && s.value("step", 0) > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double ms = ms_since(killed);
  server.stop();
  return ms;
}

std::string demo_config(const std::filesystem::path& dir, int workers) {
  return "[runtime]\nstate_dir = \"" + (dir / "state").string() + "\"\noutput_dir = \"" +
         (dir / "out").string() + "\"\n[plugins]\nsearch_path = [\"" + FTDR_PLUGIN_BUILD_DIR +
         "\"]\n[model]\npath = \"" + FTDR_SOURCE_DIR +
         "/models/ftdr-shapes\"\n[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\ndevice = \"cpu\"\n"
         "[memory]\npolicy = \"resident\"\n[server]\nlisten = \"127.0.0.1:0\"\n[generate]\nwidth = 64\n"
         "height = 64\nsteps = 20\n[workers]\ncount = " +
         std::to_string(workers) + "\n";
}

// The job's run_ms on the demo model (the second of two jobs: the first warms the process up).
double demo_run_ms(int workers) {
  const auto dir = fresh_dir("bench_workers_demo_" + std::to_string(workers));
  ServeProcess server(dir, demo_config(dir, workers));
  const int port = server.port();
  double ms = 0;
  for (int i = 0; i < 2; ++i) {
    const std::int64_t id = submit_job(port, {{"prompt", "a red circle"}, {"seed", 42}});
    ms = wait_for_state(port, id, "completed")["timings"]["run_ms"].get<double>();
  }
  server.stop();
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  std::printf("ftdr serve with worker processes, medians of %d\n", rounds);
  for (int workers : {0, 1, 2, 4}) {
    std::vector<double> v;
    for (int r = 0; r < rounds; ++r) v.push_back(throughput(workers, 200, 8));
    std::printf("  zero-work backend, %s: %.0f jobs/s\n",
                workers == 0 ? "in-process" : (std::to_string(workers) + " worker(s)").c_str(), median(v));
  }
  std::vector<double> takeover;
  for (int r = 0; r < rounds; ++r) takeover.push_back(take_over_ms());
  std::printf("  worker killed mid-job -> job running again on the other worker: %.0f ms\n",
              median(takeover));
  if (!std::filesystem::exists(std::filesystem::path(FTDR_PLUGIN_BUILD_DIR) / "ftdr_plugin_libtorch.so")) {
    std::printf("  demo model: skipped (no libtorch plugin in this build)\n");
    return 0;
  }
  std::vector<double> in_process, worker;
  for (int r = 0; r < rounds; ++r) {  // interleaved: the machine's drift hits both alike
    in_process.push_back(demo_run_ms(0));
    worker.push_back(demo_run_ms(1));
  }
  std::printf("  demo model 64x64, 20 steps, run_ms: in-process %.0f, worker process %.0f (%.2fx)\n",
              median(in_process), median(worker), median(worker) / median(in_process));
  return 0;
}
