// ftdr/framework/jobs/job_journal.hpp: the durable record of a server's jobs (SQLite, one file).
//
// A job is written before the client hears "accepted", every state change and the result are
// written as they happen, and a restart reads the journal back: what was queued or running runs
// again, what finished stays listable. Every write is a committed transaction in WAL mode; add(),
// finish() and remove() with synchronous=FULL: once they return, the row survives a crash or a
// power cut. set_state() (a running state) and set_job_dir() do not wait for the disk: a killed
// process loses neither (the OS holds them), a power cut may lose the newest, and a restart then
// does the same as without it (the job runs again, from its first step without its folder).
//
//   JobJournal journal(state_dir / "journal.sqlite");   // opens or creates; throws JournalError
//   std::int64_t id = journal.add(request_json, "normal", now_ms);    // state "queued"; concurrent
//                                                                     // adds share one commit
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
#include <exception>
#include <filesystem>
#include <mutex>
#include <string>
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

  std::int64_t add(const std::string& request, const std::string& priority, std::int64_t now_ms);
  void remove(std::int64_t id);  // a job that was refused after all (never acknowledged)
  void set_state(std::int64_t id, const std::string& state);
  // Where the job's checkpoints go, so that a restart resumes from them.
  void set_job_dir(std::int64_t id, const std::string& dir);
  void finish(std::int64_t id, const std::string& state, const std::string& result, std::int64_t now_ms);
  std::vector<JournalEntry> entries() const;
  // Deletes the oldest finished jobs beyond `keep`; returns their ids, oldest first.
  std::vector<std::int64_t> forget_finished(std::size_t keep);

 private:
  struct PendingAdd {
    const std::string& request;
    const std::string& priority;
    std::int64_t now_ms;
    std::int64_t id = 0;
    std::exception_ptr error;
    bool done = false;
  };
  void commit(const std::vector<PendingAdd*>& batch);
  void check_readable() const;
  void exec(const char* sql) const;
  [[noreturn]] void fail(const std::string& what) const;

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  mutable std::mutex mutex_;  // the connection
  std::mutex batch_mutex_;    // additions waiting for the next group commit (add())
  std::condition_variable batch_cv_;
  std::vector<PendingAdd*> waiting_;
  bool committing_ = false;
};

}  // namespace ftdr::framework
