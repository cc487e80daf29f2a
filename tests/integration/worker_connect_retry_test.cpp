// `ftdr worker --config FILE` started before its Redis ([queue] connect_retry_s): it says why it
// cannot start and that it will try again, keeps trying, and runs jobs once Redis is up; a signal
// while it waits ends it with exit 0. Real processes: redis-server, the worker, `ftdr workers`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "common/redis_server.hpp"
#include "integration/serve_process.hpp"
#include "integration/worker_process.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

std::string read_all(const fs::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Polls (up to 60 s) until `ok()`.
template <typename Ok>
bool eventually(Ok ok) {
  for (int i = 0; i < 600; ++i) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

fs::path worker_config(const fs::path& dir, const RedisServer& redis) {
  ServeOptions o;
  o.extra =
      "[queue]\nplugin = \"redis\"\nrunner_name = \"late\"\nconnect_retry_s = 120\n[queue.redis]\nurl = \"" +
      redis.url() + "\"\nconnect_timeout_ms = 200\n";
  write_file(dir / "late.toml", serve_config_text(dir, o));
  return dir / "late.toml";
}

TEST(WorkerConnectRetry, AWorkerStartedBeforeRedisWaitsForIt) {
  if (auto why = RedisServer::unavailable(); !why.empty()) GTEST_SKIP() << why;
  RedisServer redis;
  redis.stop();
  const fs::path dir = fresh_dir("worker_connect_retry");
  const fs::path config = worker_config(dir, redis);
  WorkerProcess worker(config, dir / "late.log");
  ASSERT_TRUE(eventually([&] {
    return read_all(dir / "late.log").find("trying again") != std::string::npos;
  })) << read_all(dir / "late.log");
  EXPECT_THAT(read_all(dir / "late.log"), HasSubstr("cannot reach Redis at " + redis.url()));
  EXPECT_THAT(read_all(dir / "late.log"),
              HasSubstr("ftdr worker: trying again every second for up to 120 s ([queue] connect_retry_s)"));
  EXPECT_TRUE(worker.alive());
  redis.start();
  EXPECT_TRUE(eventually([&] {
    const CliResult r = run_ftdr({"workers", "--config", config.string()}, {}, dir);
    return r.exit_code == 0 && r.out.find("\nlate ") != std::string::npos;
  })) << read_all(dir / "late.log");
  EXPECT_TRUE(worker.alive());
}

TEST(WorkerConnectRetry, ASignalWhileWaitingEndsItCleanly) {
  if (auto why = RedisServer::unavailable(); !why.empty()) GTEST_SKIP() << why;
  RedisServer redis;
  redis.stop();
  const fs::path dir = fresh_dir("worker_connect_retry_signal");
  WorkerProcess worker(worker_config(dir, redis), dir / "late.log");
  ASSERT_TRUE(
      eventually([&] { return read_all(dir / "late.log").find("trying again") != std::string::npos; }));
  EXPECT_EQ(worker.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
