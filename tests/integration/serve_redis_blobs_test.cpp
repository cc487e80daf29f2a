// [queue] files = "queue", end to end: a real redis-server, `ftdr serve` that only accepts jobs
// (run_jobs = false) and `ftdr worker --config` processes running the embedded demo model, each with
// a state_dir and output_dir of its own: they share nothing but Redis. A worker killed (SIGKILL)
// mid-diffusion leaves its newest checkpoint in Redis; a worker started afterwards resumes the job
// from it, and the server serves the PNG from its own output_dir (native and A1111 routes), byte for
// byte the PNG a single-process server makes, and again after a restart without that folder. A
// checkpoint over [queue.redis] blob_max_bytes fails its job with an error naming the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "common/redis_server.hpp"
#include "integration/redis_fleet.hpp"
#include "integration/serve_demo.hpp"
#include "integration/serve_process.hpp"
#include "serve/a1111_base64.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const DemoOptions kDemo{32, 40, "drain", 128};
const json kRequest = {{"prompt", "a red circle"}, {"seed", 101}};

// A member of the fleet in `dir` (its own state and out folders), files kept in the queue.
std::string member_config(const fs::path& dir, const RedisServer& redis, const std::string& redis_extra) {
  return fleet_config(dir, kDemo) + "[queue]\nplugin = \"redis\"\nrun_jobs = false\nfiles = \"queue\"\n" +
         "[queue.redis]\nurl = \"" + redis.url() + "\"\nlease_ms = 3000\n" + redis_extra;
}

// `ftdr worker --config` in a folder of its own.
std::unique_ptr<WorkerProcess> start_worker(const fs::path& dir, const RedisServer& redis,
                                            const std::string& redis_extra = "") {
  fs::create_directories(dir);
  write_file(dir / "worker.toml", member_config(dir, redis, redis_extra));
  return std::make_unique<WorkerProcess>(dir / "worker.toml", dir / "worker.log", "info");
}

std::string file_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The steps of the job's progress events, in order (the server keeps every event of the job).
std::vector<int> progress_steps(int port, std::int64_t id) {
  const std::string events = http(port, "GET", "/v1/jobs/" + std::to_string(id) + "/events").body;
  const std::string progress = "event: progress\ndata: {\"step\":";
  std::vector<int> steps;
  for (auto at = events.find(progress); at != std::string::npos; at = events.find(progress, at + 1))
    steps.push_back(std::stoi(events.substr(at + progress.size())));
  return steps;
}

TEST(ServeRedisBlobs, AJobKilledMidDiffusionResumesOnAnotherMachineFromTheQueue) {
  if (!demo_plugin_built()) GTEST_SKIP() << "the libtorch plugin is not built (FTDR_WITH_LIBTORCH=OFF)";
  if (auto why = RedisServer::unavailable(); !why.empty()) GTEST_SKIP() << why;
  std::string reference;
  {
    const fs::path dir = fresh_dir("redis_blobs_reference");
    ServeProcess single(dir, fleet_config(dir, kDemo));
    reference = png_of(single.port(), submit_job(single.port(), kRequest));
  }
  RedisServer redis(/*appendonly*/ false);
  const fs::path dir = fresh_dir("redis_blobs");
  ServeProcess server(dir / "server", member_config(dir / "server", redis, ""));
  const std::int64_t id = submit_job(server.port(), kRequest);
  auto first = start_worker(dir / "machine-a", redis);
  int step = 0;
  for (int i = 0; i < 12000 && step < 3; ++i) {
    const json status = job_status(server.port(), id);
    ASSERT_NE(status["state"], "completed") << "the job ended before the worker was killed";
    step = status["step"].get<int>();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(step, 3);
  first->kill();  // SIGKILL mid-diffusion: its lease runs out, its folders stay on machine A
  // The lease's job_dir names A's checkpoint folder; the later machines must not see it.
  fs::rename(dir / "machine-a" / "state", dir / "machine-a" / "state-unseen");
  ASSERT_FALSE(fs::is_empty(dir / "machine-a" / "state-unseen" / "jobs")) << "A wrote checkpoints";
  auto second = start_worker(dir / "machine-b", redis);
  auto third = start_worker(dir / "machine-c", redis);

  EXPECT_TRUE(png_of(server.port(), id) == reference) << "not the single-process PNG";
  const fs::path served = dir / "server" / "out" / ("job-" + std::to_string(id)) / "image-0.png";
  EXPECT_TRUE(file_bytes(served) == reference) << "the server keeps the PNG in its own output_dir";
  const std::vector<int> steps = progress_steps(server.port(), id);
  std::size_t again = 1;
  while (again < steps.size() && steps[again] > steps[again - 1]) ++again;
  ASSERT_LT(again, steps.size()) << "no second run: " << ::testing::PrintToString(steps);
  EXPECT_GT(steps[again], 1) << "the second run resumed from a checkpoint, not from step 1";
  const std::string resumed = "queue: job " + std::to_string(id) + ": resuming at step " +
                              std::to_string(steps[again] - 1) + " from the queue's checkpoint";
  const std::string logs =
      file_bytes(dir / "machine-b" / "worker.log") + file_bytes(dir / "machine-c" / "worker.log");
  EXPECT_THAT(logs, ::testing::HasSubstr(resumed));
  EXPECT_EQ(steps.back(), kDemo.steps);
  const bool b_ran = fs::exists(dir / "machine-b" / "out" / ("job-" + std::to_string(id)) / "image-0.png");
  const bool c_ran = fs::exists(dir / "machine-c" / "out" / ("job-" + std::to_string(id)) / "image-0.png");
  EXPECT_NE(b_ran, c_ran) << "exactly one of the later workers finished it, in its own output_dir";

  // The A1111 route serves the fetched file too (the next job: ids are Redis' INCR).
  const HttpReply a1111 = http(server.port(), "POST", "/sdapi/v1/txt2img", R"({"prompt": "a", "seed": 5})");
  ASSERT_EQ(a1111.status, 200) << a1111.body;
  const fs::path a1111_png = dir / "server" / "out" / ("job-" + std::to_string(id + 1)) / "image-0.png";
  EXPECT_EQ(json_of(a1111)["images"], json::array({host::serve::base64_encode(file_bytes(a1111_png))}));
  EXPECT_TRUE(second->alive() && third->alive());

  // A server that lost its copy (a new machine, a wiped folder) fetches it again when asked.
  server.kill(SIGKILL);
  fs::remove_all(dir / "server" / "out");
  server.start();
  EXPECT_TRUE(png_of(server.port(), id) == reference) << "fetched again from Redis";
  EXPECT_TRUE(file_bytes(served) == reference);
}

TEST(ServeRedisBlobs, ACheckpointOverTheBlobCapFailsTheJobNamingTheKey) {
  if (!demo_plugin_built()) GTEST_SKIP() << "the libtorch plugin is not built (FTDR_WITH_LIBTORCH=OFF)";
  if (auto why = RedisServer::unavailable(); !why.empty()) GTEST_SKIP() << why;
  RedisServer redis(/*appendonly*/ false);
  const fs::path dir = fresh_dir("redis_blobs_cap");
  const std::string capped = "blob_max_bytes = 100\n";
  ServeProcess server(dir / "server", member_config(dir / "server", redis, capped));
  auto worker = start_worker(dir / "machine-a", redis, capped);
  const std::int64_t id = submit_job(server.port(), kRequest);
  const json status = wait_for_state(server.port(), id, "failed");
  ASSERT_EQ(status["state"], "failed") << status.dump();
  EXPECT_EQ(status["error"]["kind"], "invalid_request");
  const std::string message = status["error"]["message"];
  EXPECT_THAT(message, ::testing::StartsWith("job " + std::to_string(id) + ": checkpoint "));
  EXPECT_THAT(message,
              ::testing::HasSubstr("latents_i0_step1.ckpt cannot be kept in the queue ([queue] files = "
                                   "\"queue\"): redis queue: blob 'checkpoint-t1' of job " +
                                   std::to_string(id) + " has "));
  EXPECT_THAT(message, ::testing::EndsWith(" bytes, over [queue.redis] blob_max_bytes = 100"));
}

}  // namespace
}  // namespace ftdr::test
