// `ftdr check-config FILE`: OK and exit 0 for a valid file; every problem with file:line:col, key
// and what was expected, and exit 2, otherwise — including problems only a plugin can see.
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/abi_text.hpp"
#include "integration/fixture_config.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CheckConfig : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name()); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  CliResult check(const std::string& text) {
    auto file = dir_ / "c.toml";
    write_file(file, text);
    return run_ftdr({"check-config", file.string()}, fixture_env(), dir_);
  }
  std::string file() const { return (dir_ / "c.toml").string(); }
  std::filesystem::path dir_;
};

TEST_F(CheckConfig, ValidConfigPrintsOk) {
  auto r = check(fixture_config_text(dir_));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "OK: " + file() + "\n");
}

TEST_F(CheckConfig, ParseErrorHasFileLineColumn) {
  auto r = check("[runtime]\nworkers = \n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("error: " + file() + ":2:"));
  EXPECT_THAT(r.err, HasSubstr("TOML parse error"));
}

TEST_F(CheckConfig, UnknownHostKeyAndBadValueAreBothReported) {
  auto r = check(fixture_config_text(dir_, "[checkpoint]\nevery_step = 3\n[recovery]\nplugin = 5\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(
      r.err, HasSubstr(file() + ":18:1: unknown key 'checkpoint.every_step' (expected one of: every_steps)"));
  EXPECT_THAT(r.err, HasSubstr(file() + ":20:10: key 'recovery.plugin': expected a string (got an integer)"));
  EXPECT_THAT(r.err, HasSubstr("2 problems"));
}

// [faults] is the backend's table (FaultPlan syntax): a bad spec is found by creating the backend.
TEST_F(CheckConfig, BadFaultSpecIsReportedByTheBackend) {
  auto r = check(fixture_config_text(dir_, "[faults]\noom = \"later\"\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(file() + ":18:7: key 'faults.oom': expected"));
}

TEST_F(CheckConfig, UnknownKeyInAPluginTableIsFoundByLoadingThePlugin) {
  auto text = fixture_config_text(dir_);
  text.replace(text.find("plugin = \"fifo\""), 15,
               "plugin = \"rejects_config\"\n[scheduler.rejects_config]\nlimit = 1\nlimt = 2");
  auto r = check(text);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("[scheduler] plugin 'rejects_config'"));
  EXPECT_THAT(r.err, HasSubstr("does not know these keys of [scheduler.rejects_config]"));
  EXPECT_THAT(
      r.err,
      HasSubstr(file() + ":12:1: unknown key 'scheduler.rejects_config.limt' (expected one of: limit)"));
}

TEST_F(CheckConfig, ValueThePluginRejectsKeepsThePluginsMessage) {
  auto text = fixture_config_text(dir_);
  text.replace(text.find("plugin = \"fifo\""), 15,
               "plugin = \"rejects_config\"\n[scheduler.rejects_config]\nlimit = -1");
  auto r = check(text);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("rejected its config: " + file() +
                               ":11:9: key 'scheduler.rejects_config.limit': expected an integer >= 0"));
}

// The queue plugin reads its table without opening its store (PluginContext::check_only): the
// journal of a server that may be running is not touched, and Redis is not asked.
TEST_F(CheckConfig, UnknownKeyInTheQueueTableIsFoundWithoutOpeningTheJournal) {
  auto r = check(fixture_config_text(dir_, "[queue.local]\nlease_ms = 5000\nleese_ms = 1\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(file() + ": [queue] plugin 'local'"));
  EXPECT_THAT(r.err, HasSubstr("does not know these keys of [queue.local]"));
  EXPECT_THAT(r.err, HasSubstr(file() + ":19:1: unknown key 'queue.local.leese_ms' (expected one of: "
                                        "aging_ms, blob_max_bytes, file, lease_ms)"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state" / "journal.sqlite"));
}

TEST_F(CheckConfig, TheRedisQueueTableIsCheckedWithoutConnecting) {
  const std::string redis = "[queue]\nplugin = \"redis\"\n[queue.redis]\nurl = \"redis://127.0.0.1:1/0\"\n";
  auto ok = check(fixture_config_text(dir_, redis + "lease_ms = 5000\n"));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;  // nothing listens on port 1: no connection was tried
  EXPECT_EQ(ok.out, "OK: " + file() + "\n");
  auto r = check(fixture_config_text(dir_, redis + "lease = 5000\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(file() + ": [queue] plugin 'redis'"));
  EXPECT_THAT(r.err, HasSubstr(file() + ":21:1: unknown key 'queue.redis.lease' (expected one of: "));
  EXPECT_THAT(r.err, Not(HasSubstr("cannot reach Redis")));
}

TEST_F(CheckConfig, ARunnerNameMustBeOneWordOfSafeCharacters) {
  auto r = check(fixture_config_text(dir_, "[queue]\nrunner_name = \"gpu a\"\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "error: " + file() +
                       ":18:15: key 'queue.runner_name': expected 1 to 64 letters, digits or '.', '_', '-', "
                       "':', '/', '@' (got 'gpu a')\n" +
                       file() + ": 1 problem\n");
  EXPECT_EQ(check(fixture_config_text(dir_, "[queue]\nrunner_name = \"gpu-a.rack2:0\"\n")).exit_code, 0);
}

TEST_F(CheckConfig, MissingPluginListsWhereItLooked) {
  auto text = fixture_config_text(dir_);
  text.replace(text.find("plugin = \"fifo\""), 15, "plugin = \"lifo\"");
  auto r = check(text);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("[scheduler] no plugin named 'lifo' (looked for ftdr_plugin_lifo.so in: " +
                               fixture_dir()));
  EXPECT_THAT(r.err, HasSubstr("plugins found: "));
}

TEST_F(CheckConfig, PluginOfTheWrongKind) {
  auto text = fixture_config_text(dir_);
  text.replace(text.find("plugin = \"fifo\""), 15, "plugin = \"overlap\"");
  auto r = check(text);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("plugin 'overlap'"));
  EXPECT_THAT(r.err, HasSubstr("is a tiling plugin, but a scheduler plugin was asked for"));
}

TEST_F(CheckConfig, RefusedAbiIsReported) {
  auto text = fixture_config_text(dir_);
  text.replace(text.find("plugin = \"fifo\""), 15, "plugin = \"abi_major\"");
  auto r = check(text);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(fixture_dir() +
                               "/ftdr_plugin_abi_major.so: built for FTDR SDK ABI 2.0, but this host "
                               "has SDK ABI " +
                               abi_text()));
}

TEST_F(CheckConfig, MissingModelFolder) {
  auto text = fixture_config_text(dir_);
  text.replace(text.find("tests/fixtures/models/tiny"), 26, "tests/fixtures/models/none");
  auto r = check(text);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr(file() + ": [model] path: "));
  EXPECT_THAT(r.err, HasSubstr("tests/fixtures/models/none is not a folder or a file (expected a diffusers "
                               "model folder or a single-file checkpoint)"));
}

// Issue 15, defect 5: a wrong type is one problem, not one plus every later key "unknown".
TEST_F(CheckConfig, WrongTypeIsTheOnlyProblemReported) {
  auto r = check(fixture_config_text(dir_, "[checkpoint]\nevery_steps = \"3\"\n")
                     .replace(0, 9, "[runtime]\nworkers = \"2\"\nqueue_capacity = 4\nshutdown = \"cancel\""));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "error: " + file() + ":2:11: key 'runtime.workers': expected an integer (got a string)\n" +
                       "error: " + file() +
                       ":21:15: key 'checkpoint.every_steps': expected an integer (got a string)\n" + file() +
                       ": 2 problems\n");
}

TEST_F(CheckConfig, FolderOrPipeIsNamedForWhatItIs) {
  auto folder = run_ftdr({"check-config", dir_.string()}, fixture_env(), dir_);
  EXPECT_EQ(folder.exit_code, 2);
  EXPECT_EQ(folder.err, "error: " + dir_.string() + ": is a directory, not a config file\n" + dir_.string() +
                            ": 1 problem\n");
  auto fifo = dir_ / "pipe.toml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto pipe = run_ftdr({"check-config", fifo.string()}, fixture_env(), dir_);
  EXPECT_EQ(pipe.exit_code, 2);
  EXPECT_EQ(pipe.err, "error: " + fifo.string() + ": is not a regular file (a config must be a TOML file)\n" +
                          fifo.string() + ": 1 problem\n");
}

TEST_F(CheckConfig, NeedsAFile) {
  auto r = run_ftdr({"check-config"}, {}, dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("check-config: expected a config FILE"));
}

}  // namespace
}  // namespace ftdr::test
