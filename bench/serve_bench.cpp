// ftdr_bench_serve: `ftdr serve` under load from concurrent clients.
//
// By default with a zero-work backend (the test fixture: 1 step, no sleep), so the figures are the
// server's own cost: HTTP, validation, the journal commit (WAL, synchronous=FULL: one fsync per
// acknowledged job and per state change), the JobManager and the PNG writer. With --demo, on the
// real libtorch plugin and the embedded demo model (models/ftdr-shapes, 64x64, 20 DDIM steps, CPU):
// what a user of the demo sees, the model's work included.
//
// Prints: submissions/s and p50/p99 latency of POST /v1/jobs over `jobs` jobs from `clients` client
// threads (one connection per request), jobs completed/s (first submission to the last completion),
// p50/p99 time from submission to the first progress event (one client, one job at a time on the
// idle server; 50 jobs, 10 with --demo), the server's CPU time per job (user + system, from
// submission to completion: a figure that holds on a busy machine), and its peak RSS (sampled every 5 ms: the
// libtorch backend resets the kernel's VmHWM before each phase to measure the phase's peak, so VmHWM alone
// would miss earlier peaks).
//
// Usage: ftdr_bench_serve [--demo] [jobs 200] [clients 8]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include <unistd.h>

#include "integration/serve_demo.hpp"
#include "integration/serve_process.hpp"

using namespace ftdr::test;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0
                   : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// VmRSS and VmHWM of a process, KiB; the larger.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  long most = -1;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0 || line.rfind("VmRSS:", 0) == 0)
      most = std::max(most, std::atol(line.c_str() + 6));
  return most;
}

// CPU time the process has used so far (user + system), ms: the server's cost per job, a figure
// that holds on a busy machine where latencies do not.
double cpu_ms(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  long ticks = 0;
  for (int i = 3; fields >> field && i <= 15; ++i)
    if (i >= 14) ticks += std::atol(field.c_str());  // utime, stime
  return 1000.0 * static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Samples the server's RSS until destroyed; peak() is the largest seen.
class PeakRss {
 public:
  explicit PeakRss(pid_t pid)
      : thread_([this, pid] {
          while (!stop_.load()) {
            peak_.store(std::max(peak_.load(), rss_kib(pid)));
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }) {}
  ~PeakRss() {
    stop_.store(true);
    thread_.join();
  }
  long peak() const { return peak_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<long> peak_{-1};
  std::thread thread_;
};

// POST a job, then follow its events until the first progress event: the time to that event.
double submit_and_follow(int port) {
  const auto start = Clock::now();
  const std::int64_t id = submit_job(port, {{"prompt", "bench"}});
  Connection c(port);
  c.send("GET /v1/jobs/" + std::to_string(id) + "/events HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
  std::string received;
  c.read_until("event: progress", received);
  const double ms = ms_since(start);
  wait_for_state(port, id, "completed");  // so the next one starts on an idle server
  return ms;
}

std::unique_ptr<ServeProcess> start_server(bool demo) {
  if (!demo) {
    ServeOptions o;
    o.steps = 1;
    o.queue_capacity = 1000000;
    return std::make_unique<ServeProcess>(fresh_dir("bench_serve"), o);
  }
  if (!demo_plugin_built()) {
    std::fprintf(stderr, "--demo needs the libtorch plugin at %s\n", demo_plugin().c_str());
    std::exit(2);
  }
  const auto dir = fresh_dir("bench_serve_demo");
  DemoOptions o;
  o.queue_capacity = 1000000;
  return std::make_unique<ServeProcess>(dir, demo_config(dir, o));
}

}  // namespace

int main(int argc, char** argv) {
  const bool demo = argc > 1 && std::strcmp(argv[1], "--demo") == 0;
  const int first = demo ? 2 : 1;
  const int jobs = argc > first ? std::atoi(argv[first]) : 200;
  const int clients = argc > first + 1 ? std::atoi(argv[first + 1]) : 8;
  if (jobs < 1 || clients < 1) {
    std::fprintf(stderr, "usage: ftdr_bench_serve [--demo] [jobs >= 1] [clients >= 1]\n");
    return 2;
  }
  const auto server = start_server(demo);
  const int port = server->port();
  PeakRss peak(server->pid());

  std::vector<std::vector<double>> submit(static_cast<std::size_t>(clients));
  std::vector<std::vector<std::int64_t>> ids(static_cast<std::size_t>(clients));
  const double cpu_before = cpu_ms(server->pid());
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = c; i < jobs; i += clients) {
        const auto t = Clock::now();
        const std::int64_t id = submit_job(port, {{"prompt", "bench"}, {"seed", i}});
        submit[static_cast<std::size_t>(c)].push_back(ms_since(t));
        ids[static_cast<std::size_t>(c)].push_back(id);
      }
    });
  for (auto& t : threads) t.join();
  const double submit_s = ms_since(start) / 1000;
  // All completed: each job's own status, polled until it is (a listing of every finished job
  // each time cost the server more than the jobs did).
  for (const auto& mine : ids)
    for (const std::int64_t id : mine)
      while (job_status(port, id)["state"] != "completed")
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const double done_s = ms_since(start) / 1000;
  const double cpu_per_job = (cpu_ms(server->pid()) - cpu_before) / jobs;
  std::vector<double> all;
  for (const auto& v : submit) all.insert(all.end(), v.begin(), v.end());

  const int followed = demo ? 10 : 50;
  std::vector<double> first_event;
  for (int i = 0; i < followed; ++i) first_event.push_back(submit_and_follow(port));

  std::printf("ftdr serve, %s, %d jobs from %d clients\n",
              demo ? "demo model (64x64, 20 DDIM steps, CPU)" : "zero-work backend", jobs, clients);
  std::printf("  submissions: %.0f/s, latency p50 %.2f ms, p99 %.2f ms\n", jobs / submit_s,
              percentile(all, 0.5), percentile(all, 0.99));
  std::printf("  completed:   %.2f jobs/s (first submission to the last completion, %.1f s)\n", jobs / done_s,
              done_s);
  std::printf(
      "  submission -> first progress event (one client, %d jobs, idle server): p50 %.2f ms, p99 %.2f ms\n",
      followed, percentile(first_event, 0.5), percentile(first_event, 0.99));
  std::printf("  server CPU per job (submission to completion, status polls included): %.3f ms\n",
              cpu_per_job);
  std::printf("  server peak RSS: %ld KiB\n", peak.peak());
  return server->stop();
}
