// ftdr_bench_serve: `ftdr serve` under load from concurrent clients, with a zero-work backend (the
// test fixture: 1 step, no sleep), so the figures are the server's own cost: HTTP, validation, the
// journal commit (WAL, synchronous=FULL: one fsync per acknowledged job and per state change), the
// JobManager and the PNG writer.
//
// Prints: submissions/s and p50/p99 latency of POST /v1/jobs over `jobs` jobs from `clients` client
// threads (one connection per request), jobs completed/s, p50/p99 time from submission to the
// first progress event, and the server's peak RSS. Usage: ftdr_bench_serve [jobs 200] [clients 8]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

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

long peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// POST a job, then follow its events until the first progress event: both latencies.
std::pair<double, double> submit_and_follow(int port) {
  const auto start = Clock::now();
  const std::int64_t id = submit_job(port, {{"prompt", "bench"}});
  const double submit_ms = ms_since(start);
  Connection c(port);
  c.send("GET /v1/jobs/" + std::to_string(id) + "/events HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
  std::string received;
  c.read_until("event: progress", received);
  return {submit_ms, ms_since(start)};
}

}  // namespace

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 200;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 8;
  ServeOptions o;
  o.steps = 1;
  o.queue_capacity = 1000000;
  ServeProcess server(fresh_dir("bench_serve"), o);
  const int port = server.port();

  std::vector<std::vector<double>> submit(static_cast<std::size_t>(clients));
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = c; i < jobs; i += clients) {
        const auto t = Clock::now();
        submit_job(port, {{"prompt", "bench"}, {"seed", i}});
        submit[static_cast<std::size_t>(c)].push_back(ms_since(t));
      }
    });
  for (auto& t : threads) t.join();
  const double submit_s = ms_since(start) / 1000;
  for (;;) {  // all completed
    const auto list = json_of(http(port, "GET", "/v1/jobs?state=completed&limit=1000"))["jobs"];
    if (static_cast<int>(list.size()) >= jobs) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double done_s = ms_since(start) / 1000;
  std::vector<double> all;
  for (const auto& v : submit) all.insert(all.end(), v.begin(), v.end());

  std::vector<double> first_event;
  for (int i = 0; i < 50; ++i) first_event.push_back(submit_and_follow(port).second);

  std::printf("ftdr serve, zero-work backend, %d jobs from %d clients\n", jobs, clients);
  std::printf("  submissions: %.0f/s, latency p50 %.2f ms, p99 %.2f ms\n", jobs / submit_s,
              percentile(all, 0.5), percentile(all, 0.99));
  std::printf("  completed:   %.0f jobs/s (submission to the last completion)\n", jobs / done_s);
  std::printf("  submission -> first progress event (one client, 50 jobs): p50 %.2f ms, p99 %.2f ms\n",
              percentile(first_event, 0.5), percentile(first_event, 0.99));
  std::printf("  server peak RSS: %ld KiB\n", peak_rss_kib(server.pid()));
  return server.stop();
}
