// ftdr/framework/jobs/job_journal.hpp: the durable record of a server's jobs (SQLite, one file).
//
// A job is written before the client hears "accepted", every state change and the result are
// written as they happen, and a restart reads the journal back: what was queued or running runs
// again, what finished stays listable. Every write is a committed transaction in WAL mode with
// synchronous=FULL. add(), set_job_dir(), finish(), remove() and forget_finished() return once
// theirs is on disk: it survives a crash or a power cut. set_state() (a running state) returns at
// once and goes with the next commit: a crash may lose the newest, and a restart then does the same
// as without it (the job runs again).
//
//   JobJournal journal(state_dir / "journal.sqlite");   // opens or creates; throws JournalError
//   std::int64_t id = journal.add(request_json, "normal", now_ms);    // state "queued"
//   journal.add_async(request_json, "normal", now_ms,                  // the same, without waiting
//                     [](std::int64_t id, std::exception_ptr error) { ... });
//
// Group commit: the journal's committer thread writes every add(), finish() and remove() that arrived
// while the previous commit was under way in one transaction, one fsync for all of them, so
// concurrent submissions and finishing jobs cost one disk flush together instead of one each.
//   journal.set_state(id, "initializing");
//   journal.finish(id, "completed", result_json, now_ms);
//   for (const JournalEntry& e : journal.entries()) ...                // oldest first
//
// The schema version is SQLite's user_version. A file from a newer FTDR (a higher version) or one
// that is not a readable SQLite database is refused with a JournalError naming the file; the
// journal is never reset silently. Thread-safe: calls are serialized.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ftdr/sdk/error.hpp"

struct sqlite3;

namespace ftdr::framework {

// The journal cannot be opened or written. kind() is internal.
class JournalError : public sdk::Error {
 public:
  explicit JournalError(const std::string& message) : sdk::Error(sdk::ErrorKind::internal, message) {}
};

struct JournalEntry {
  std::int64_t id = 0;  // > 0, never reused
  std::string request;  // as given to add() (JSON text)
  std::string priority;
  std::string state;                             // "queued", a running state, or a final one
  std::int64_t created_ms = 0, finished_ms = 0;  // wall-clock ms since the epoch; 0 = not finished
  std::string result;                            // as given to finish() ("" before)
  std::string job_dir;                           // as given to set_job_dir() ("" = none yet)
};

class JobJournal {
 public:
  static constexpr int kSchemaVersion = 1;

  explicit JobJournal(const std::filesystem::path& file);
  ~JobJournal();
  JobJournal(const JobJournal&) = delete;
  JobJournal& operator=(const JobJournal&) = delete;

  const std::filesystem::path& file() const { return file_; }

  // The row is durable once add() returns (or `done` runs). Throws JournalError.
  std::int64_t add(const std::string& request, const std::string& priority, std::int64_t now_ms);
  // `done` runs on the journal's callback thread, after the commit: with the new id (> 0) and no
  // error, or with id 0 and the JournalError. It may call the journal again.
  using AddDone = std::function<void(std::int64_t id, std::exception_ptr error)>;
  void add_async(std::string request, std::string priority, std::int64_t now_ms, AddDone done);
  void remove(std::int64_t id);  // a job that was refused after all (never acknowledged)
  void set_state(std::int64_t id, const std::string& state);
  // Where the job's checkpoints go, so that a restart resumes from them.
  void set_job_dir(std::int64_t id, const std::string& dir);
  void finish(std::int64_t id, const std::string& state, const std::string& result, std::int64_t now_ms);
  std::vector<JournalEntry> entries();  // after every earlier write
  // Deletes the oldest finished jobs beyond `keep`; returns their ids, oldest first.
  std::vector<std::int64_t> forget_finished(std::size_t keep);

 private:
  // A write for the committer thread: `apply` runs the SQL inside the batch's transaction (throws
  // JournalError), `done` gets its outcome once the batch is committed.
  struct PendingWrite {
    std::function<void()> apply;
    std::function<void(std::exception_ptr)> done;
    bool done_here = false;  // run `done` on the committer (write()'s own promise), else on done_runner_
    std::exception_ptr error;
  };
  void write(std::function<void()> apply);  // waits for the commit; throws its error
  void write_async(std::function<void()> apply, std::function<void(std::exception_ptr)> done);
  void queue(PendingWrite write);
  void commit_loop();
  void done_loop();
  void commit(std::vector<PendingWrite>& batch);
  void check_readable() const;
  void exec(const char* sql) const;
  [[noreturn]] void fail(const std::string& what) const;

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;        // the connection
  std::mutex batch_mutex_;  // additions waiting for the next group commit
  std::condition_variable batch_cv_;
  std::vector<PendingWrite> waiting_;
  bool stopping_ = false;
  std::mutex done_mutex_;  // callbacks of committed add_async() calls, for done_runner_
  std::condition_variable done_cv_;
  std::deque<std::function<void()>> dones_;
  bool done_stopping_ = false;
  std::thread committer_;    // runs commit_loop(); the threads last: started after the rest exists
  std::thread done_runner_;  // runs done_loop()
};

}  // namespace ftdr::framework
