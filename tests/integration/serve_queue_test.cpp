// `ftdr serve` over the `local` queue plugin on the real binary: a journal an FTDR before the queue
// plugins wrote (schema 1) opens with every job, the finished ones listable and the waiting ones run;
// [queue.local] file moves the journal; `[queue] run_jobs = false` is refused where nothing else
// could run the jobs; `[queue] plugin` naming no plugin stops the start naming it.
#include <sqlite3.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// The SQL FTDR's JobJournal (schema 1) ran, with a finished job and a job that was running.
void write_v1_journal(const std::filesystem::path& file) {
  std::filesystem::create_directories(file.parent_path());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  const char* sql =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE IF NOT EXISTS jobs ( id INTEGER PRIMARY KEY AUTOINCREMENT, request TEXT NOT NULL,"
      " priority TEXT NOT NULL, state TEXT NOT NULL, created_ms INTEGER NOT NULL,"
      " finished_ms INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '',"
      " job_dir TEXT NOT NULL DEFAULT '');"
      "PRAGMA user_version=1;"
      "INSERT INTO jobs (request, priority, state, created_ms, finished_ms, result) VALUES"
      " ('{\"prompt\": \"old\", \"width\": 16, \"height\": 8, \"steps\": 3}', 'high', 'completed', 1, 2,"
      "  '{\"images\": [], \"attempts\": [], \"degraded\": false, \"timings\": {}}');"
      "INSERT INTO jobs (request, priority, state, created_ms) VALUES"
      " ('{\"prompt\": \"was running\", \"width\": 16, \"height\": 8, \"steps\": 3}', 'normal',"
      "  'diffusion_running', 3);";
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(ServeQueuePlugin, AJournalFromBeforeTheQueuePluginsOpensWithEveryJob) {
  const auto dir = fresh_dir("serve_queue_v1");
  write_v1_journal(dir / "state" / "journal.sqlite");
  ServeProcess server(dir);
  const json old = job_status(server.port(), 1);
  EXPECT_EQ(old["state"], "completed");
  EXPECT_EQ(old["priority"], "high");
  const json ran = wait_for_state(server.port(), 2, "completed");
  EXPECT_EQ(ran["state"], "completed") << ran.dump();
  EXPECT_EQ(http(server.port(), "GET", "/v1/jobs/2/images/0").status, 200);
  EXPECT_EQ(submit_job(server.port(), {{"prompt", "new"}}), 3);  // ids go on after the old ones
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeQueuePlugin, TheJournalFileIsAQueueLocalSetting) {
  const auto dir = fresh_dir("serve_queue_file");
  ServeOptions o;
  o.extra = "[queue.local]\nfile = \"" + (dir / "elsewhere" / "jobs.sqlite").string() + "\"\n";
  ServeProcess server(dir, o);
  wait_for_state(server.port(), submit_job(server.port(), {{"prompt", "x"}}), "completed");
  EXPECT_EQ(server.stop(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "elsewhere" / "jobs.sqlite"));
  EXPECT_FALSE(std::filesystem::exists(dir / "state" / "journal.sqlite"));
}

CliResult serve_with(const std::filesystem::path& dir, const std::string& extra) {
  ServeOptions o;
  o.extra = extra;
  std::filesystem::create_directories(dir);
  write_file(dir / "serve.toml", serve_config_text(dir, o));
  return run_ftdr({"serve", "--config", (dir / "serve.toml").string()}, {{"FTDR_PLUGIN_PATH", fixture_dir()}},
                  dir);
}

TEST(ServeQueuePlugin, RunJobsFalseIsRefusedWhereNothingElseCouldRunTheJobs) {
  const auto dir = fresh_dir("serve_queue_run_jobs");
  const CliResult local = serve_with(dir, "[queue]\nrun_jobs = false\n");
  EXPECT_EQ(local.exit_code, 2);
  EXPECT_THAT(local.err,
              HasSubstr("[queue] run_jobs = false with [queue] plugin = \"local\": no other process "
                        "may run the local queue's jobs"));
  const CliResult workers = serve_with(dir, "[queue]\nrun_jobs = false\n[workers]\ncount = 2\n");
  EXPECT_EQ(workers.exit_code, 2);
  EXPECT_THAT(
      workers.err,
      HasSubstr("[queue] run_jobs = false: this server runs no jobs, so [workers] count must be 0 (got 2)"));
}

TEST(ServeQueuePlugin, AnUnknownQueuePluginStopsTheStartNamingIt) {
  const CliResult r = serve_with(fresh_dir("serve_queue_unknown"), "[queue]\nplugin = \"no_such_queue\"\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("[queue] "));
  EXPECT_THAT(r.err, HasSubstr("no_such_queue"));
}

}  // namespace
}  // namespace ftdr::test
