// `ftdr workers --config FILE`: the runners of a shared queue as a table (or JSON); the `local`
// queue refused (exit 2) with a pointer to the server's GET /v1/workers; an unreachable Redis named
// (exit 1). The listing of live runners is tested with real workers in serve_redis_runners_test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/redis_server.hpp"
#include "integration/fixture_config.hpp"

namespace ftdr::test {
namespace {

using testing::HasSubstr;

class WorkersCli : public testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_dir(testing::UnitTest::GetInstance()->current_test_info()->name()); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  CliResult workers(const std::string& extra, std::vector<std::string> more = {}) {
    const auto file = write_fixture_config(dir_, extra);
    std::vector<std::string> args{"workers", "--config", file.string()};
    args.insert(args.end(), more.begin(), more.end());
    return run_ftdr(args, fixture_env(), dir_);
  }
  std::string file() const { return (dir_ / "ftdr.toml").string(); }
  std::filesystem::path dir_;
};

TEST_F(WorkersCli, TheLocalQueueIsRefusedPointingAtTheServersRoute) {
  const CliResult r = workers("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("ftdr: " + file() +
                               ": [queue] plugin = \"local\": the local queue is one "
                               "`ftdr serve` process's journal"));
  EXPECT_THAT(r.err, HasSubstr("ask it with GET /v1/workers"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state" / "journal.sqlite")) << "the journal was not opened";
}

TEST_F(WorkersCli, AnUnreachableRedisIsNamed) {
  const CliResult r = workers(
      "[queue]\nplugin = \"redis\"\n[queue.redis]\nurl = \"redis://127.0.0.1:1/0\"\nconnect_timeout_ms = "
      "500\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot reach Redis at redis://127.0.0.1:1/0"));
  EXPECT_EQ(r.out, "");
}

TEST_F(WorkersCli, AQueueWithoutRunnersSaysSo) {
  if (auto why = RedisServer::unavailable(); !why.empty()) GTEST_SKIP() << why;
  RedisServer redis;
  const std::string tables = "[queue]\nplugin = \"redis\"\n[queue.redis]\nurl = \"" + redis.url() + "\"\n";
  const CliResult table = workers(tables);
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out, "no runners\n");
  const CliResult listed = workers(tables, {"--json"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out, "[]\n");
}

TEST_F(WorkersCli, AnUnknownOptionIsAUsageError) {
  const CliResult r = workers("", {"--all"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--all"));
}

}  // namespace
}  // namespace ftdr::test
