// `ftdr serve`'s journal on the real binary: accepted jobs survive kill -9 and a "cancel" shutdown
// and run at the next start; finished jobs stay listable and downloadable; a journal that is not
// one, or is from a newer FTDR, stops the start with an error naming the file.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

using nlohmann::json;

std::string image_path(std::int64_t id, int i) {
  return "/v1/jobs/" + std::to_string(id) + "/images/" + std::to_string(i);
}

void expect_completed_with_png(int port, std::int64_t id) {
  const json done = wait_for_state(port, id, "completed");
  ASSERT_EQ(done["state"], "completed") << done.dump();
  const HttpReply png = http(port, "GET", image_path(id, 0));
  ASSERT_EQ(png.status, 200);
  EXPECT_EQ(png_size(png.body), std::make_pair(16, 8));
}

TEST(ServeJournal, KilledServerRunsItsAcceptedJobsAfterRestart) {
  ServeOptions o;
  o.step_ms = 100;
  o.steps = 10;
  ServeProcess server(fresh_dir("serve_kill9"), o);
  const std::int64_t running = submit_job(server.port(), {{"prompt", "interrupted"}});
  wait_for_state(server.port(), running, "diffusion_running");
  const std::int64_t queued = submit_job(server.port(), {{"prompt", "never started"}});
  server.kill(SIGKILL);

  server.start();
  const json list = json_of(http(server.port(), "GET", "/v1/jobs"));
  ASSERT_EQ(list["jobs"].size(), 2u) << list.dump();
  expect_completed_with_png(server.port(), running);
  expect_completed_with_png(server.port(), queued);
  EXPECT_EQ(json_of(http(server.port(), "GET", "/v1/jobs"))["jobs"].size(), 2u);  // run once each
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeJournal, RestartResumesFromTheNewestCheckpoint) {
  ServeOptions o;
  o.step_ms = 100;
  o.steps = 20;  // killed at step 4 or a little later: far from the end
  o.extra = "[checkpoint]\nevery_steps = 1\n";
  ServeProcess server(fresh_dir("serve_resume"), o);
  const std::int64_t id = submit_job(server.port(), {{"prompt", "resumed"}});
  for (int i = 0; i < 6000 && job_status(server.port(), id)["step"].get<int>() < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  server.kill(SIGKILL);
  const auto left = checkpoint_files(server.dir() / "state");
  ASSERT_EQ(left.size(), 1u);  // each checkpoint replaces the one before
  const int saved = std::stoi(left[0].substr(std::string("latents_i0_step").size()));
  EXPECT_GE(saved, 4);

  server.start();
  const std::string events = http(server.port(), "GET", "/v1/jobs/" + std::to_string(id) + "/events").body;
  // The first step this run reports is the one after the checkpoint, not step 1.
  const std::string progress = "event: progress\ndata: {\"step\":";
  const auto first = events.find(progress);
  ASSERT_NE(first, std::string::npos) << events;
  EXPECT_EQ(std::stoi(events.substr(first + progress.size())), saved + 1) << events;
  expect_completed_with_png(server.port(), id);
  EXPECT_TRUE(checkpoint_files(server.dir() / "state").empty());  // removed once the job completed
  EXPECT_EQ(server.stop(), 0);
}

// SIGTERM with shutdown = "cancel": the running job stops at a step boundary, stays queued in the
// journal and keeps its checkpoint, and the next start resumes it from there (not from step 1).
// A "cancel" shutdown stops the running job for a restart: its newest checkpoint stays, and the next
// start resumes from the step after it. `extra`: more config (worker processes).
void expect_cancel_shutdown_resumes(const std::string& name, const std::string& extra) {
  ServeOptions o;
  o.step_ms = 100;
  o.steps = 30;
  o.shutdown = "cancel";
  o.extra = "[checkpoint]\nevery_steps = 1\n" + extra;
  ServeProcess server(fresh_dir(name), o);
  const std::int64_t id = submit_job(server.port(), {{"prompt", "stopped by the shutdown"}});
  for (int i = 0; i < 6000 && job_status(server.port(), id)["step"].get<int>() < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(server.stop(), 0);
  const auto left = checkpoint_files(server.dir() / "state");
  ASSERT_EQ(left.size(), 1u) << "the stopped job's checkpoint stays for the next start";
  const int saved = std::stoi(left[0].substr(std::string("latents_i0_step").size()));
  EXPECT_GE(saved, 4);

  server.start();
  const std::string events = http(server.port(), "GET", "/v1/jobs/" + std::to_string(id) + "/events").body;
  const std::string progress = "event: progress\ndata: {\"step\":";
  const auto first = events.find(progress);
  ASSERT_NE(first, std::string::npos) << events;
  EXPECT_EQ(std::stoi(events.substr(first + progress.size())), saved + 1) << events;
  expect_completed_with_png(server.port(), id);
  EXPECT_TRUE(checkpoint_files(server.dir() / "state").empty());
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeJournal, CancelShutdownKeepsJobsQueuedForTheNextStart) {
  expect_cancel_shutdown_resumes("serve_cancel_shutdown", "");
}

// With worker processes the server tells the worker to stop the job for a restart (protocol 1.1
// cancel.for_restart), so the worker keeps the checkpoints too.
TEST(ServeJournal, CancelShutdownWithWorkersKeepsTheCheckpoints) {
  expect_cancel_shutdown_resumes("serve_cancel_shutdown_workers", "[workers]\ncount = 1\n");
}

TEST(ServeJournal, FinishedJobsAreListedAndDownloadableAfterRestart) {
  ServeProcess server(fresh_dir("serve_restart"));
  const std::int64_t a = submit_job(server.port(), {{"prompt", "first"}});
  const std::int64_t b = submit_job(server.port(), {{"prompt", "second"}});
  wait_for_state(server.port(), a, "completed");
  wait_for_state(server.port(), b, "completed");
  const std::string before = http(server.port(), "GET", image_path(a, 0)).body;
  EXPECT_EQ(server.stop(), 0) << server.err();

  server.start();
  const json list = json_of(http(server.port(), "GET", "/v1/jobs?state=completed"));
  ASSERT_EQ(list["jobs"].size(), 2u);
  EXPECT_EQ(list["jobs"][0]["id"], a);
  EXPECT_EQ(list["jobs"][1]["id"], b);
  EXPECT_EQ(http(server.port(), "GET", image_path(a, 0)).body, before);
  const json status = job_status(server.port(), a);
  EXPECT_EQ(status["request"]["prompt"], "first");
  EXPECT_EQ(status["attempts"], 1);
  // Its event stream, after a restart, is the final state alone.
  const std::string events = http(server.port(), "GET", "/v1/jobs/" + std::to_string(a) + "/events").body;
  EXPECT_NE(events.find("\"state\":\"completed\""), std::string::npos) << events;
  // New ids continue after the journal's.
  EXPECT_GT(submit_job(server.port(), {{"prompt", "third"}}), b);
  EXPECT_EQ(server.stop(), 0);
}

// The ids of the jobs in a journal file, in order.
std::vector<std::int64_t> journal_ids(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  std::vector<std::int64_t> ids;
  if (sqlite3_open(file.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "SELECT id FROM jobs ORDER BY id", -1, &s, nullptr);
    while (s && sqlite3_step(s) == SQLITE_ROW) ids.push_back(sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return ids;
}

// keep_finished = 2: the oldest finished jobs leave the listing at once and the journal in batches
// (keep_finished/32, at least 1: at the next submission) and at the latest at the next start.
TEST(ServeJournal, KeepFinishedForgetsTheOldestJobs) {
  ServeOptions o;
  o.server_extra = "keep_finished = 2\n";
  ServeProcess server(fresh_dir("serve_keep_finished"), o);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(submit_job(server.port(), {{"prompt", "job " + std::to_string(i)}}));
    wait_for_state(server.port(), ids.back(), "completed");
  }
  const auto listed = [&] {
    std::vector<std::int64_t> got;
    const json list = json_of(http(server.port(), "GET", "/v1/jobs"));
    for (const json& j : list["jobs"]) got.push_back(j["id"]);
    return got;
  };
  EXPECT_EQ(listed(), (std::vector<std::int64_t>{ids[2], ids[3]}));
  EXPECT_EQ(http(server.port(), "GET", "/v1/jobs/" + std::to_string(ids[0])).status, 404);
  // The 4th submission made the journal forget all but the 2 newest finished jobs: job 1, and job 2
  // too when job 4 had already finished by then (its runner can be quicker than that commit; seen
  // once in a full run). Job 2 otherwise went out of the listing after it.
  const auto file = server.dir() / "state" / "journal.sqlite";
  const std::vector<std::int64_t> journaled = journal_ids(file);
  EXPECT_TRUE(journaled == (std::vector<std::int64_t>{ids[1], ids[2], ids[3]}) ||
              journaled == (std::vector<std::int64_t>{ids[2], ids[3]}))
      << testing::PrintToString(journaled);
  EXPECT_EQ(server.stop(), 0);

  server.start();
  EXPECT_EQ(listed(), (std::vector<std::int64_t>{ids[2], ids[3]}));
  EXPECT_EQ(journal_ids(file), (std::vector<std::int64_t>{ids[2], ids[3]}));
  EXPECT_EQ(server.stop(), 0);
}

// Runs `ftdr serve` with `dir`/state as its state folder; returns how it ended.
CliResult serve_on_journal(const std::filesystem::path& dir) {
  write_file(dir / "serve.toml", serve_config_text(dir, {}));
  return run_ftdr({"serve", "--config", (dir / "serve.toml").string()}, {{"FTDR_PLUGIN_PATH", fixture_dir()}},
                  dir);
}

TEST(ServeJournal, CorruptJournalIsRefusedNamingTheFile) {
  const auto dir = fresh_dir("serve_corrupt");
  std::filesystem::create_directories(dir / "state");
  const auto file = dir / "state" / "journal.sqlite";
  write_file(file, std::string(4096, 'x'));
  const CliResult r = serve_on_journal(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("job journal " + file.string() + ": cannot read: file is not a database"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::string(4096, 'x'), [&] {
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }());  // never reset
}

// Rows written by hand into a journal the server made (the server is not running meanwhile).
void add_rows(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(ServeJournal, AJournaledRequestTheServerRefusesFailsThatJobOnly) {
  ServeProcess server(fresh_dir("serve_bad_row"));
  EXPECT_EQ(server.stop(), 0);
  add_rows(server.dir() / "state" / "journal.sqlite",
           "INSERT INTO jobs (request, priority, state, created_ms) VALUES "
           "('{\"prompt\": \"x\", \"width\": 7}', 'normal', 'queued', 1), "
           "('{\"prompt\": \"fine\", \"width\": 16, \"height\": 8, \"steps\": 3}', 'normal', 'queued', 2)");
  server.start();
  const json bad = wait_for_state(server.port(), 1, "failed");
  EXPECT_EQ(bad["state"], "failed");
  EXPECT_EQ(bad["error"]["kind"], "invalid_request");
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("request field 'width'"), std::string::npos);
  expect_completed_with_png(server.port(), 2);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeJournal, AnUnreadableRowStopsTheStartNamingTheJob) {
  ServeProcess server(fresh_dir("serve_unreadable_row"));
  EXPECT_EQ(server.stop(), 0);
  const auto file = server.dir() / "state" / "journal.sqlite";
  add_rows(
      file,
      "INSERT INTO jobs (request, priority, state, created_ms) VALUES ('not json', 'normal', 'queued', 1)");
  const CliResult r = serve_on_journal(server.dir());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("job journal " + file.string() + ": job 1 cannot be read"), std::string::npos)
      << r.err;
}

TEST(ServeJournal, JournalFromANewerSchemaIsRefused) {
  const auto dir = fresh_dir("serve_newer");
  std::filesystem::create_directories(dir / "state");
  const auto file = dir / "state" / "journal.sqlite";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 7", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const CliResult r = serve_on_journal(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("job journal " + file.string() + ": schema version 7 is newer than this FTDR's (2)"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace ftdr::test
