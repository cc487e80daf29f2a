// The `local` queue as a journal (what JobJournal's tests checked): what is written is read back
// after reopening; concurrent enqueues share commits and all land; retention forgets the oldest
// finished jobs only; a file that is not a journal, or is from a newer schema, is refused and left
// as it is; a v1 journal (FTDR's JobJournal, SDK <= 1.2) is migrated in place with every row.
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugins/local_queue_test_support.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

TEST(LocalQueueJournal, JobsSurviveReopening) {
  const fs::path file = fresh_journal("reopen");
  std::uint64_t a = 0, b = 0;
  {
    lq::LocalQueue q(queue_settings(file));
    a = q.enqueue(R"({"prompt":"a"})", sdk::Priority::high, 1000);
    b = q.enqueue(R"({"prompt":"b"})", sdk::Priority::normal, 2000);
    const auto lease = q.claim("host/1", 0);
    ASSERT_TRUE(lease);
    EXPECT_EQ(lease->job.id, a);  // high first
    EXPECT_TRUE(q.report(*lease, {a, sdk::QueueEventKind::state, "diffusion_running", 0, 0, ""}));
    EXPECT_TRUE(q.set_job_dir(*lease, "/srv/ftdr-state/jobs/77"));
    const auto second = q.claim("host/1", 0);
    ASSERT_TRUE(second);
    EXPECT_TRUE(q.complete(*second, "completed", R"({"images":["x.png"]})", 3000));
  }
  lq::LocalQueue q(queue_settings(file));
  const auto jobs = q.jobs();
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, a);
  EXPECT_EQ(jobs[0].request, R"({"prompt":"a"})");
  EXPECT_EQ(jobs[0].priority, sdk::Priority::high);
  EXPECT_EQ(jobs[0].state, "queued");  // its process is gone: it waits again, with its folder
  EXPECT_EQ(jobs[0].worker, "");
  EXPECT_EQ(jobs[0].claims, 1u);
  EXPECT_EQ(jobs[0].finished_ms, 0);
  EXPECT_EQ(jobs[0].job_dir, "/srv/ftdr-state/jobs/77");
  EXPECT_EQ(jobs[1].job_dir, "");
  EXPECT_EQ(jobs[1].state, "completed");
  EXPECT_EQ(jobs[1].result, R"({"images":["x.png"]})");
  EXPECT_EQ(jobs[1].finished_ms, 3000);
  const auto again = q.claim("host/2", 0);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->job.id, a);
  EXPECT_EQ(again->token, 2u);                              // tokens keep growing across reopenings
  EXPECT_GT(q.enqueue("{}", sdk::Priority::low, 4000), b);  // ids are never reused
}

// Concurrent additions share commits (group commit): each still gets its own id, and every one is
// in the file after reopening.
TEST(LocalQueueJournal, ConcurrentEnqueuesAreAllCommittedWithDistinctIds) {
  const fs::path file = fresh_journal("concurrent");
  std::vector<std::vector<std::uint64_t>> ids(8);
  {
    lq::LocalQueue q(queue_settings(file));
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < ids.size(); ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i)
          ids[t].push_back(q.enqueue("{\"t\":" + std::to_string(t) + "}", sdk::Priority::normal, i + 1));
      });
    for (auto& t : threads) t.join();
  }
  std::set<std::uint64_t> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 200u);
  const auto jobs = lq::LocalQueue(queue_settings(file)).jobs();
  ASSERT_EQ(jobs.size(), 200u);
  for (const auto& j : jobs) {
    const std::size_t t = static_cast<std::size_t>(j.request[5] - '0');
    EXPECT_NE(std::find(ids[t].begin(), ids[t].end(), j.id), ids[t].end()) << j.request;  // its own row
  }
}

TEST(LocalQueueJournal, RemoveAndRetentionTakeTheBlobsAlong) {
  lq::LocalQueue q(queue_settings(fresh_journal("retention")));
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(q.enqueue("{}", sdk::Priority::normal, i + 1));
  for (int i = 0; i < 4; ++i) {
    const auto lease = q.claim("w", 0);
    ASSERT_TRUE(lease);
    q.put_blob(lease->job.id, "latents", "bytes " + std::to_string(i));
    ASSERT_TRUE(q.complete(*lease, "completed", "{}", 10 + i));
  }
  q.put_blob(ids[4], "latents", "never acknowledged");
  q.remove(ids[4]);
  q.remove(9999);                                                                 // unknown: ignored
  EXPECT_EQ(q.forget_finished(2), (std::vector<std::uint64_t>{ids[0], ids[1]}));  // oldest first
  const auto left = q.jobs();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].id, ids[2]);
  EXPECT_EQ(left[1].id, ids[3]);
  EXPECT_TRUE(q.blob_names(ids[0]).empty());
  EXPECT_TRUE(q.blob_names(ids[4]).empty());
  EXPECT_EQ(q.get_blob(ids[2], "latents"), "bytes 2");
}

TEST(LocalQueueJournal, NotADatabaseIsRefusedAndKept) {
  const fs::path file = fresh_journal("garbage");
  fs::create_directories(file.parent_path());
  std::ofstream(file) << std::string(2048, 'z');
  EXPECT_THAT([&] { lq::LocalQueue q(queue_settings(file)); },
              ::testing::ThrowsMessage<sdk::Error>(
                  HasSubstr("job journal " + file.string() + ": cannot read: file is not a database")));
  EXPECT_EQ(fs::file_size(file), 2048u);
}

// One process owns a local queue: a second opener (here: another LocalQueue, whose lock is its own
// open file) is refused naming the file, and can open it once the first is gone.
TEST(LocalQueueJournal, ASecondOpenerIsRefusedWhileTheFirstHoldsTheFile) {
  const fs::path file = fresh_journal("owner");
  {
    lq::LocalQueue first(queue_settings(file));
    EXPECT_THAT([&] { lq::LocalQueue second(queue_settings(file)); },
                ::testing::ThrowsMessage<sdk::Error>(
                    HasSubstr("job journal " + file.string() + ": in use by another process")));
    first.enqueue("{}", sdk::Priority::normal, 1);
  }
  EXPECT_EQ(lq::LocalQueue(queue_settings(file)).jobs().size(), 1u);
}

void sql(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, text.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(LocalQueueJournal, NewerSchemaIsRefused) {
  const fs::path file = fresh_journal("newer");
  sql(file, "PRAGMA user_version = 3");
  EXPECT_THAT([&] { lq::LocalQueue q(queue_settings(file)); },
              ::testing::ThrowsMessage<sdk::Error>(HasSubstr(
                  "job journal " + file.string() + ": schema version 3 is newer than this FTDR's (2)")));
}

// A journal as FTDR's JobJournal (schema 1) wrote it, with its exact SQL: a finished job, a job
// that was running (with its checkpoint folder) and a queued one.
TEST(LocalQueueJournal, AV1JournalIsMigratedInPlaceKeepingEveryRow) {
  const fs::path file = fresh_journal("v1");
  sql(file,
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE IF NOT EXISTS jobs ( id INTEGER PRIMARY KEY AUTOINCREMENT, request TEXT NOT NULL,"
      " priority TEXT NOT NULL, state TEXT NOT NULL, created_ms INTEGER NOT NULL,"
      " finished_ms INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '',"
      " job_dir TEXT NOT NULL DEFAULT '');"
      "PRAGMA user_version=1;"
      "INSERT INTO jobs (request, priority, state, created_ms) VALUES ('{\"prompt\":\"done\"}', 'high', "
      "'queued', 10);"
      "UPDATE jobs SET state = 'completed', result = '{\"images\":[]}', finished_ms = 20 WHERE id = 1;"
      "INSERT INTO jobs (request, priority, state, created_ms) VALUES ('{\"prompt\":\"ran\"}', 'low', "
      "'queued', 30);"
      "UPDATE jobs SET state = 'diffusion_running', job_dir = '/state/jobs/5' WHERE id = 2;"
      "INSERT INTO jobs (request, priority, state, created_ms) VALUES ('{\"prompt\":\"waits\"}', 'urgent', "
      "'queued', 40);");
  lq::LocalQueue q(queue_settings(file));
  const auto jobs = q.jobs();
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].state, "completed");
  EXPECT_EQ(jobs[0].result, "{\"images\":[]}");
  EXPECT_EQ(jobs[0].finished_ms, 20);
  EXPECT_EQ(jobs[0].priority, sdk::Priority::high);
  EXPECT_EQ(jobs[1].state, "queued");
  EXPECT_EQ(jobs[1].job_dir, "/state/jobs/5");
  EXPECT_EQ(jobs[1].claims, 0u);
  EXPECT_EQ(jobs[2].request, "{\"prompt\":\"waits\"}");
  const auto lease = q.claim("w", 0);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->job.id, 3u);  // urgent first
  EXPECT_EQ(lease->token, 1u);
  q.put_blob(2, "latents", "x");  // the v2 blobs table exists
  EXPECT_EQ(q.enqueue("{}", sdk::Priority::normal, 50), 4u);
}

}  // namespace
}  // namespace ftdr::test
