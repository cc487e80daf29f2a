// JobJournal: what is written is read back after reopening; retention forgets the oldest finished
// jobs only; a file that is not a journal, or is from a newer schema, is refused and left as it is.
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "ftdr/framework/jobs/job_journal.hpp"

namespace ftdr::framework {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

fs::path fresh(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("ftdr_journal_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir / "journal.sqlite";  // the folder is made by the journal
}

TEST(JobJournal, EntriesSurviveReopening) {
  const fs::path file = fresh("reopen");
  std::int64_t a = 0, b = 0;
  {
    JobJournal j(file);
    a = j.add(R"({"prompt":"a"})", "high", 1000);
    b = j.add(R"({"prompt":"b"})", "normal", 2000);
    j.set_state(a, "diffusion_running");
    j.set_job_dir(a, "/srv/ftdr-state/jobs/77");
    j.finish(b, "completed", R"({"images":["x.png"]})", 3000);
  }
  JobJournal j(file);
  const auto entries = j.entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].id, a);
  EXPECT_EQ(entries[0].request, R"({"prompt":"a"})");
  EXPECT_EQ(entries[0].priority, "high");
  EXPECT_EQ(entries[0].state, "diffusion_running");
  EXPECT_EQ(entries[0].finished_ms, 0);
  EXPECT_EQ(entries[0].job_dir, "/srv/ftdr-state/jobs/77");
  EXPECT_EQ(entries[1].job_dir, "");
  EXPECT_EQ(entries[1].state, "completed");
  EXPECT_EQ(entries[1].result, R"({"images":["x.png"]})");
  EXPECT_EQ(entries[1].finished_ms, 3000);
  EXPECT_GT(j.add("{}", "low", 4000), b);  // ids are never reused
}

// Concurrent additions share commits (group commit): each still gets its own id, and every one is
// in the file after reopening.
TEST(JobJournal, ConcurrentAddsAreAllCommittedWithDistinctIds) {
  const fs::path file = fresh("concurrent");
  std::vector<std::vector<std::int64_t>> ids(8);
  {
    JobJournal j(file);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < ids.size(); ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i)
          ids[t].push_back(j.add("{\"t\":" + std::to_string(t) + "}", "normal", i));
      });
    for (auto& t : threads) t.join();
  }
  std::set<std::int64_t> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 200u);
  const auto entries = JobJournal(file).entries();
  ASSERT_EQ(entries.size(), 200u);
  for (const auto& e : entries) {
    EXPECT_TRUE(all.count(e.id)) << e.id;
    const std::size_t t = static_cast<std::size_t>(e.request[5] - '0');
    EXPECT_NE(std::find(ids[t].begin(), ids[t].end(), e.id), ids[t].end()) << e.request;  // its own row
  }
}

TEST(JobJournal, RemoveAndRetention) {
  JobJournal j(fresh("retention"));
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(j.add("{}", "normal", i));
  for (int i = 0; i < 4; ++i) j.finish(ids[static_cast<std::size_t>(i)], "completed", "{}", 10 + i);
  j.remove(ids[4]);
  EXPECT_EQ(j.forget_finished(2), (std::vector<std::int64_t>{ids[0], ids[1]}));  // oldest first
  const auto left = j.entries();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].id, ids[2]);
  EXPECT_EQ(left[1].id, ids[3]);
}

TEST(JobJournal, NotADatabaseIsRefusedAndKept) {
  const fs::path file = fresh("garbage");
  fs::create_directories(file.parent_path());
  std::ofstream(file) << std::string(2048, 'z');
  try {
    JobJournal j(file);
    FAIL() << "opened a file that is not a journal";
  } catch (const JournalError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("job journal " + file.string() + ": cannot read: file is not a database"));
  }
  EXPECT_EQ(fs::file_size(file), 2048u);
}

TEST(JobJournal, NewerSchemaIsRefused) {
  const fs::path file = fresh("newer");
  fs::create_directories(file.parent_path());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 2", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THAT([&] { JobJournal j(file); }, ::testing::ThrowsMessage<JournalError>(
                                               HasSubstr("schema version 2 is newer than this FTDR's (1)")));
}

}  // namespace
}  // namespace ftdr::framework
