// One queue for many runners, end to end: a real redis-server, `ftdr serve` that only accepts jobs
// ([queue] plugin = "redis", run_jobs = false) and three `ftdr worker --config` processes running the
// embedded demo model, sharing one state and output folder (the "shared folder" deployment of
// docs/queue-redis.md). 60 jobs of mixed priority; meanwhile a random worker is killed with SIGKILL
// five times (and started again), redis-server is killed and restarted (appendonly), and paused for
// 10 s. Every job completes exactly once, with the PNG a single-process server makes for the same
// request, byte for byte.
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "common/redis_server.hpp"
#include "integration/redis_fleet.hpp"
#include "integration/serve_demo.hpp"
#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kJobs = 60;
constexpr int kVariants = 4;  // distinct requests (by seed): each has one reference PNG

json request_of(int i) {
  static const char* kPriorities[] = {"urgent", "high", "normal", "low"};
  return {{"prompt", "a red circle"}, {"seed", 100 + i % kVariants}, {"priority", kPriorities[(i / 3) % 4]}};
}

std::string png_of_completed(int port, std::int64_t id) {
  const json done = wait_for_state(port, id, "completed");
  if (done["state"] != "completed") return "job " + std::to_string(id) + " ended " + done.dump();
  return http(port, "GET", "/v1/jobs/" + std::to_string(id) + "/images/0").body;
}

int completed_count(int port) {
  const json list = json_of(http(port, "GET", "/v1/jobs?state=completed&limit=1000"));
  return static_cast<int>(list["jobs"].size());
}

// Waits (up to 120 s) until at least `n` jobs completed.
bool wait_completed(int port, int n) {
  for (int i = 0; i < 1200; ++i) {
    if (completed_count(port) >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::map<int, std::string> reference_pngs(const fs::path& dir, const DemoOptions& o) {
  ServeProcess server(dir, fleet_config(dir, o));
  std::map<int, std::string> pngs;
  for (int v = 0; v < kVariants; ++v)
    pngs[v] = png_of_completed(server.port(), submit_job(server.port(), request_of(v)));
  return pngs;
}

TEST(ServeRedisFleet, SixtyJobsSurviveKilledWorkersAndARedisRestartAndPause) {
  if (!demo_plugin_built()) GTEST_SKIP() << "the libtorch plugin is not built (FTDR_WITH_LIBTORCH=OFF)";
  if (auto why = RedisServer::unavailable(); !why.empty()) GTEST_SKIP() << why;
  const DemoOptions o{32, 8, "drain", 128};
  const std::map<int, std::string> reference = reference_pngs(fresh_dir("redis_fleet_reference"), o);

  RedisServer redis(/*appendonly*/ true);
  const fs::path dir = fresh_dir("redis_fleet");
  const std::string config = fleet_config(dir, o) + "[queue]\nplugin = \"redis\"\nrun_jobs = false\n" +
                             "[queue.redis]\nurl = \"" + redis.url() + "\"\nlease_ms = 3000\n";
  ServeProcess server(dir, config);
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (int w = 0; w < 3; ++w)
    workers.push_back(
        std::make_unique<WorkerProcess>(dir / "serve.toml", dir / ("worker" + std::to_string(w) + ".log")));

  std::vector<std::int64_t> ids;
  for (int i = 0; i < kJobs; ++i) ids.push_back(submit_job(server.port(), request_of(i)));

  std::mt19937 rng(20261201);
  for (int kill = 1; kill <= 5; ++kill) {
    ASSERT_TRUE(wait_completed(server.port(), kill * 8)) << "stalled before kill " << kill;
    if (kill == 2) {
      redis.kill();  // appendonly: what it acknowledged survives
      redis.start();
    }
    if (kill == 4) {
      redis.pause();
      std::this_thread::sleep_for(std::chrono::seconds(10));
      redis.resume();
    }
    // Jobs are still waiting, so every worker holds one: this one dies mid-job. Its replacement
    // starts once Redis answers again (a worker that cannot reach Redis at start exits, saying so).
    WorkerProcess& victim = *workers[rng() % workers.size()];
    victim.kill();
    victim.start();
  }
  for (int i = 0; i < kJobs; ++i) {
    SCOPED_TRACE("job " + std::to_string(ids[i]));
    EXPECT_TRUE(png_of_completed(server.port(), ids[i]) == reference.at(i % kVariants))
        << "not the single-process PNG";
  }
  const json all = json_of(http(server.port(), "GET", "/v1/jobs?limit=1000"));
  EXPECT_EQ(all["jobs"].size(), static_cast<std::size_t>(kJobs)) << "a job was lost or duplicated";
  int images = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "out"))
    images += entry.path().extension() == ".png" ? 1 : 0;
  EXPECT_EQ(images, kJobs) << "every job wrote its one image exactly once";
  for (auto& w : workers) EXPECT_TRUE(w->alive()) << "a worker did not survive the Redis outages";
}

}  // namespace
}  // namespace ftdr::test
