// ftdr_bench_queue: jobs/s through the `local` and the `redis` queue plugins, enqueue -> claim ->
// complete, with no work in between, for 1, 2 and 4 concurrent claimers.
//
// `local`: one instance on a fresh journal in a temp folder (its one owner process), the claimers
// threads of that process, the enqueuer one more thread; every enqueue and complete is a durable
// commit (WAL, synchronous=FULL), so the disk's fsync is part of the figure. `redis`: starts its own
// redis-server (tests/common/redis_server.hpp, appendonly off: the queue's cost, not
// the disk's) on a free loopback port. Each claimer is a plugin instance of its own (its own
// connections and subscriber: another "machine"); one more instance enqueues all jobs of a run while
// the claimers work. 5 runs per claimer count, each on a fresh key prefix; prints every run and the
// median. Then the take-over time: a runner dies holding a lease (lease_ms = 1000), how long until a
// waiting runner has its job (goal: <= lease + 1 s). Usage: ftdr_bench_queue [jobs per run, default 2000]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/redis_server.hpp"
#include "ftdr/framework/config/config_view.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"
#include "ftdr/sdk/queue.hpp"

namespace {

using namespace ftdr;

std::shared_ptr<sdk::JobQueue> make_queue(const test::RedisServer& redis, const std::string& prefix,
                                          const std::string& extra = "") {
  framework::PluginLoader loader(framework::PluginRegistry({std::filesystem::path(FTDR_PLUGIN_BUILD_DIR)}));
  auto view =
      framework::ConfigDocument::parse_string(
          "[queue.redis]\nurl = \"" + redis.url() + "\"\nprefix = \"" + prefix + "\"\n" + extra, "(bench)")
          ->view("queue.redis");
  return std::dynamic_pointer_cast<sdk::JobQueue>(
      loader.create(sdk::PluginKind::queue, "redis", view).object);
}

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::shared_ptr<sdk::JobQueue> make_local(const std::filesystem::path& dir) {
  framework::PluginLoader loader(framework::PluginRegistry({std::filesystem::path(FTDR_PLUGIN_BUILD_DIR)}),
                                 dir.string());
  auto view = framework::ConfigDocument::parse_string(
                  "[queue.local]\nfile = \"" + (dir / "journal.sqlite").string() + "\"\n", "(bench)")
                  ->view("queue.local");
  return std::dynamic_pointer_cast<sdk::JobQueue>(
      loader.create(sdk::PluginKind::queue, "local", view).object);
}

// `server` enqueues `jobs` while each of `machines` claims and completes on a thread of its own.
double run_once(const std::shared_ptr<sdk::JobQueue>& server,
                const std::vector<std::shared_ptr<sdk::JobQueue>>& machines, int jobs) {
  const auto claimers = static_cast<int>(machines.size());
  std::atomic<int> done{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < claimers; ++c) {
    threads.emplace_back([&, c] {
      const std::string me = "bench/" + std::to_string(c);
      while (done.load() < jobs) {
        auto lease = machines[static_cast<std::size_t>(c)]->claim(me, 100);
        if (!lease) continue;
        if (machines[static_cast<std::size_t>(c)]->complete(*lease, "completed", "{}", wall_ms())) ++done;
      }
    });
  }
  for (int i = 0; i < jobs; ++i) server->enqueue(R"({"prompt":"bench"})", sdk::Priority::normal, wall_ms());
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return jobs / seconds;
}

double run_redis(const test::RedisServer& redis, const std::string& prefix, int claimers, int jobs) {
  std::vector<std::shared_ptr<sdk::JobQueue>> machines;
  for (int c = 0; c < claimers; ++c) machines.push_back(make_queue(redis, prefix));
  return run_once(make_queue(redis, prefix), machines, jobs);
}

double run_local(const std::filesystem::path& dir, int claimers, int jobs) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto queue = make_local(dir);
  const double rate = run_once(queue, std::vector<std::shared_ptr<sdk::JobQueue>>(claimers, queue), jobs);
  queue.reset();
  std::filesystem::remove_all(dir);
  return rate;
}

// 5 runs of `run` per claimer count: every run and the median.
template <typename Run>
void five_runs_each(const char* plugin, Run run) {
  for (int claimers : {1, 2, 4}) {
    std::vector<double> rates;
    for (int r = 0; r < 5; ++r) {
      rates.push_back(run(claimers));
      std::printf("  %s, %d claimer(s), run %d: %.0f jobs/s\n", plugin, claimers, r + 1, rates.back());
    }
    std::sort(rates.begin(), rates.end());
    std::printf("%s, %d claimer(s): median %.0f jobs/s (enqueue -> claim -> complete)\n", plugin, claimers,
                rates[2]);
  }
}

// A runner claims a job and dies (its plugin instance is destroyed: no renewal, no release); another,
// already waiting in claim(), gets the job once the lease expired. Milliseconds from the dead
// runner's claim (its last renewal) to the take-over.
double takeover_ms(const test::RedisServer& redis, const std::string& prefix, std::int64_t lease_ms) {
  const std::string keys = "lease_ms = " + std::to_string(lease_ms) + "\n";
  auto server = make_queue(redis, prefix, keys);
  auto dying = make_queue(redis, prefix, keys);
  auto live = make_queue(redis, prefix, keys);
  server->enqueue("{}", sdk::Priority::normal, wall_ms());
  auto lease = dying->claim("dying/1", 5000);
  const auto claimed = std::chrono::steady_clock::now();
  dying.reset();
  auto again = live->claim("live/1", 60000);
  const auto took = std::chrono::steady_clock::now() - claimed;
  if (!lease || !again || again->job.id != lease->job.id) return -1;
  return std::chrono::duration<double, std::milli>(took).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2000;
  const auto dir =
      std::filesystem::temp_directory_path() / ("ftdr_bench_queue_" + std::to_string(::getpid()));
  std::printf("queue bench: `local` plugin, journal in %s, %d jobs per run, 5 runs\n", dir.c_str(), jobs);
  five_runs_each("local", [&](int claimers) { return run_local(dir, claimers, jobs); });
  if (const std::string why = test::RedisServer::unavailable(); !why.empty()) {
    std::printf("queue bench: skipped: %s\n", why.c_str());
    return 0;
  }
  test::RedisServer redis;
  std::printf("queue bench: `redis` plugin, redis-server on %s, %d jobs per run, 5 runs\n",
              redis.url().c_str(), jobs);
  int run_number = 0;
  five_runs_each("redis", [&](int claimers) {
    return run_redis(redis, "bench" + std::to_string(run_number++), claimers, jobs);
  });
  constexpr std::int64_t kLease = 1000;
  std::vector<double> takeovers;
  for (int r = 0; r < 5; ++r) {
    takeovers.push_back(takeover_ms(redis, "takeover" + std::to_string(r), kLease));
    std::printf("  take-over run %d: %.0f ms\n", r + 1, takeovers.back());
  }
  std::sort(takeovers.begin(), takeovers.end());
  std::printf(
      "take-over after a runner's death: median %.0f ms after its last renewal (lease_ms = %lld; goal "
      "<= lease + 1000 ms)\n",
      takeovers[2], static_cast<long long>(kLease));
  return 0;
}
