// GET /v1/workers and `ftdr workers` on a fleet: a real redis-server, `ftdr serve` that only accepts
// jobs ([queue] run_jobs = false) and two `ftdr worker --config` runners named by [queue]
// runner_name, on the test fixtures' backend. The runners are listed with host, pid, state and the
// job they run; one SIGKILLed and started again under its name shows restarts = 1; one SIGKILLed for
// good turns "lost" once it has been silent for 3 leases.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/redis_server.hpp"
#include "integration/serve_process.hpp"
#include "integration/worker_process.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::HasSubstr;

constexpr int kLeaseMs = 2000;  // "lost" after 6 s of silence

std::string queue_tables(const RedisServer& redis, const std::string& runner_name) {
  return "[queue]\nplugin = \"redis\"\nrun_jobs = false\n" +
         (runner_name.empty() ? "" : "runner_name = \"" + runner_name + "\"\n") + "[queue.redis]\nurl = \"" +
         redis.url() + "\"\nlease_ms = " + std::to_string(kLeaseMs) + "\n";
}

std::string hostname() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

json runner_named(int port, const std::string& name) {
  const json all = json_of(http(port, "GET", "/v1/workers"));  // kept: the loop walks inside it
  for (const auto& r : all["runners"])
    if (r["name"] == name) return r;
  return nullptr;
}

// Polls GET /v1/workers (up to 60 s) until runner `name` satisfies `ok`; returns it as last seen.
template <typename Ok>
json wait_runner(int port, const std::string& name, Ok ok) {
  json r;
  for (int i = 0; i < 600; ++i) {
    r = runner_named(port, name);
    if (!r.is_null() && ok(r)) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "runner " << name << " not as expected within 60 s; last: " << r.dump();
  return r;
}

class ServeRedisRunners : public testing::Test {
 protected:
  void SetUp() override {
    if (auto why = RedisServer::unavailable(); !why.empty()) GTEST_SKIP() << why;
    redis_ = std::make_unique<RedisServer>();
    dir_ = fresh_dir(testing::UnitTest::GetInstance()->current_test_info()->name());
    ServeOptions o;
    o.step_ms = 100;
    o.extra = queue_tables(*redis_, "");
    server_ = std::make_unique<ServeProcess>(dir_, o);
    for (const std::string name : {"gpu-a", "gpu-b"}) {
      o.extra = queue_tables(*redis_, name);
      write_file(dir_ / (name + ".toml"), serve_config_text(dir_, o));
      workers_.push_back(std::make_unique<WorkerProcess>(dir_ / (name + ".toml"), dir_ / (name + ".log")));
    }
  }
  int port() const { return server_->port(); }

  std::unique_ptr<RedisServer> redis_;
  fs::path dir_;
  std::unique_ptr<ServeProcess> server_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
};

TEST_F(ServeRedisRunners, RunnersOnTheQueueAreListedWithHostStateAndJob) {
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string name = i == 0 ? "gpu-a" : "gpu-b";
    const pid_t pid = workers_[i]->pid();
    const json r = wait_runner(port(), name, [&](const json& r) { return r["pid"] == pid; });
    EXPECT_EQ(r["host"], hostname());
    EXPECT_EQ(r["state"], "idle");
    EXPECT_EQ(r["job"], nullptr);
    EXPECT_EQ(r["restarts"], 0);
    EXPECT_EQ(r["jobs_done"], 0);
  }
  const json all = json_of(http(port(), "GET", "/v1/workers"));
  EXPECT_EQ(all["workers"], json::array()) << "this server supervises no worker process";
  EXPECT_EQ(all["in_process"], true);
  EXPECT_EQ(all["runners"].size(), 2u) << "run_jobs = false: the server itself is no runner";

  const std::int64_t id = submit_job(port(), {{"prompt", "a red circle"}, {"steps", 40}});  // 4 s
  std::string runs_it;
  for (int i = 0; i < 600 && runs_it.empty(); ++i) {
    const json now = json_of(http(port(), "GET", "/v1/workers"));
    for (const auto& r : now["runners"])
      if (r["state"] == "running" && r["job"] == id) runs_it = r["name"];
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(runs_it.empty()) << "no runner was listed running job " << id;
  EXPECT_EQ(wait_for_state(port(), id, "completed")["state"], "completed");
  const json done = wait_runner(port(), runs_it, [](const json& r) { return r["jobs_done"] == 1; });
  EXPECT_EQ(done["state"], "idle");
  EXPECT_EQ(done["job"], nullptr);
}

TEST_F(ServeRedisRunners, ARestartedRunnerCountsARestartAndAKilledOneIsLost) {
  const pid_t first = workers_[0]->pid();
  wait_runner(port(), "gpu-a", [&](const json& r) { return r["pid"] == first; });
  wait_runner(port(), "gpu-b", [&](const json& r) { return r["pid"] == workers_[1]->pid(); });
  workers_[0]->kill();  // SIGKILL: no last word
  workers_[0]->start();
  const pid_t second = workers_[0]->pid();
  const json a = wait_runner(port(), "gpu-a", [&](const json& r) { return r["pid"] == second; });
  EXPECT_EQ(a["restarts"], 1);
  EXPECT_EQ(a["state"], "idle");

  workers_[1]->kill();
  const json b = wait_runner(port(), "gpu-b", [](const json& r) { return r["state"] == "lost"; });
  EXPECT_EQ(b["restarts"], 0);
  EXPECT_EQ(runner_named(port(), "gpu-a")["state"], "idle") << "the live runner is not lost";

  // `ftdr workers` on any machine with the config: the same list, as a table.
  const CliResult listed = run_ftdr({"workers", "--config", (dir_ / "gpu-a.toml").string()}, {}, dir_);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, testing::StartsWith("NAME   HOST"));
  EXPECT_THAT(listed.out,
              testing::MatchesRegex(".*\ngpu-a +" + hostname() + " +idle +- +1 +[0-9]+ s ago\n.*"));
  EXPECT_THAT(listed.out, testing::MatchesRegex(".*\ngpu-b +" + hostname() + " +lost +- +0 +[0-9]+ s ago\n"));
}

}  // namespace
}  // namespace ftdr::test
