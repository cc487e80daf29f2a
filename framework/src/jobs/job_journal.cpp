// The SQLite job journal (see job_journal.hpp).
#include "ftdr/framework/jobs/job_journal.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <exception>

namespace ftdr::framework {
namespace {

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    ok_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) == SQLITE_OK;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return ok_; }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  int step() { return sqlite3_step(stmt_); }
  std::int64_t integer(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string text(int i) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))) : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  bool ok_ = false;
};

constexpr const char* kCreate =
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " request TEXT NOT NULL,"
    " priority TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " finished_ms INTEGER NOT NULL DEFAULT 0,"
    " result TEXT NOT NULL DEFAULT '',"
    " job_dir TEXT NOT NULL DEFAULT '')";

}  // namespace

JobJournal::JobJournal(const std::filesystem::path& file) : file_(file) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw JournalError("job journal " + file_.string() + ": cannot open: " + why);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    check_readable();
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec(kCreate);
    exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
  } catch (...) {
    sqlite3_close(db_);  // no destructor runs for a constructor that throws
    db_ = nullptr;
    throw;
  }
}

JobJournal::~JobJournal() { sqlite3_close(db_); }

// Refuses a file that is not a readable SQLite database, is damaged, or is from a newer schema. The
// statements end here: an open one would keep a read transaction and block the WAL switch.
void JobJournal::check_readable() const {
  // The first read of a file that is not a database fails here ("file is not a database").
  Statement version(db_, "PRAGMA user_version");
  if (!version.ok() || version.step() != SQLITE_ROW) fail("cannot read");
  const std::int64_t found = version.integer(0);
  if (found > kSchemaVersion)
    throw JournalError("job journal " + file_.string() + ": schema version " + std::to_string(found) +
                       " is newer than this FTDR's (" + std::to_string(kSchemaVersion) +
                       "); run the FTDR that wrote it, or move the file away to start an empty journal");
  Statement check(db_, "PRAGMA quick_check");
  if (!check.ok() || check.step() != SQLITE_ROW) fail("cannot check");
  if (check.text(0) != "ok")
    throw JournalError("job journal " + file_.string() + ": damaged (" + check.text(0) +
                       "); move the file away to start an empty journal");
}

void JobJournal::fail(const std::string& what) const {
  const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
  throw JournalError("job journal " + file_.string() + ": " + what + ": " + why +
                     " (not an FTDR journal or damaged; move the file away to start an empty journal)");
}

void JobJournal::exec(const char* sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string why = message ? message : "unknown error";
    sqlite3_free(message);
    throw JournalError("job journal " + file_.string() + ": " + why);
  }
}

// Group commit: additions that arrive while one commit is under way wait and go together in the
// next transaction, one fsync for all of them. The first caller to find no commit running commits
// everything waiting (its own addition included); the others wait for their row's outcome.
std::int64_t JobJournal::add(const std::string& request, const std::string& priority, std::int64_t now_ms) {
  PendingAdd mine{request, priority, now_ms, 0, nullptr, false};
  std::unique_lock<std::mutex> lock(batch_mutex_);
  waiting_.push_back(&mine);
  while (!mine.done) {
    if (committing_) {
      batch_cv_.wait(lock);
      continue;
    }
    committing_ = true;
    std::vector<PendingAdd*> batch;
    batch.swap(waiting_);
    lock.unlock();
    commit(batch);
    lock.lock();
    committing_ = false;
    for (PendingAdd* p : batch) p->done = true;
    batch_cv_.notify_all();
  }
  if (mine.error) std::rethrow_exception(mine.error);
  return mine.id;
}

void JobJournal::commit(const std::vector<PendingAdd*>& batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    exec("BEGIN IMMEDIATE");
    for (PendingAdd* p : batch) {
      Statement s(db_, "INSERT INTO jobs (request, priority, state, created_ms) VALUES (?, ?, 'queued', ?)");
      s.bind(1, p->request);
      s.bind(2, p->priority);
      s.bind(3, p->now_ms);
      if (!s.ok() || s.step() != SQLITE_DONE) fail("cannot add a job");
      p->id = sqlite3_last_insert_rowid(db_);
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);  // no row of the batch was added
    for (PendingAdd* p : batch) p->error = std::current_exception();
  }
}

void JobJournal::remove(std::int64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "DELETE FROM jobs WHERE id = ?");
  s.bind(1, id);
  if (!s.ok() || s.step() != SQLITE_DONE) fail("cannot remove job " + std::to_string(id));
}

// A running state is committed without waiting for the disk: losing the newest one in a crash
// changes nothing (a restart runs every unfinished job again, whatever running state it had), and
// the fsyncs per job drop from one per state change to the ones that matter: add, job_dir, finish.
void JobJournal::set_state(std::int64_t id, const std::string& state) {
  std::lock_guard<std::mutex> lock(mutex_);
  exec("PRAGMA synchronous=NORMAL");
  Statement s(db_, "UPDATE jobs SET state = ? WHERE id = ?");
  s.bind(1, state);
  s.bind(2, id);
  const bool ok = s.ok() && s.step() == SQLITE_DONE;
  exec("PRAGMA synchronous=FULL");
  if (!ok) fail("cannot record the state of job " + std::to_string(id));
}

// Without an fsync, like set_state(): written before the job's first checkpoint, it survives a
// killed process (the OS has it); only a power cut before the next commit can lose it, and then
// the job runs again from its first step.
void JobJournal::set_job_dir(std::int64_t id, const std::string& dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  exec("PRAGMA synchronous=NORMAL");
  Statement s(db_, "UPDATE jobs SET job_dir = ? WHERE id = ?");
  s.bind(1, dir);
  s.bind(2, id);
  const bool ok = s.ok() && s.step() == SQLITE_DONE;
  exec("PRAGMA synchronous=FULL");
  if (!ok) fail("cannot record the checkpoint folder of job " + std::to_string(id));
}

void JobJournal::finish(std::int64_t id, const std::string& state, const std::string& result,
                        std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "UPDATE jobs SET state = ?, result = ?, finished_ms = ? WHERE id = ?");
  s.bind(1, state);
  s.bind(2, result);
  s.bind(3, now_ms);
  s.bind(4, id);
  if (!s.ok() || s.step() != SQLITE_DONE) fail("cannot record the result of job " + std::to_string(id));
}

std::vector<JournalEntry> JobJournal::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(
      db_,
      "SELECT id, request, priority, state, created_ms, finished_ms, result, job_dir FROM jobs ORDER BY id");
  if (!s.ok()) fail("cannot read the jobs");
  std::vector<JournalEntry> out;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW)
    out.push_back(
        {s.integer(0), s.text(1), s.text(2), s.text(3), s.integer(4), s.integer(5), s.text(6), s.text(7)});
  if (rc != SQLITE_DONE) fail("cannot read the jobs");
  return out;
}

std::vector<std::int64_t> JobJournal::forget_finished(std::size_t keep) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_,
              "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_ms > 0 ORDER BY id DESC "
              "LIMIT -1 OFFSET ?) RETURNING id");
  s.bind(1, static_cast<std::int64_t>(keep));
  std::vector<std::int64_t> ids;
  int rc = 0;
  while (s.ok() && (rc = s.step()) == SQLITE_ROW) ids.push_back(s.integer(0));
  if (!s.ok() || rc != SQLITE_DONE) fail("cannot forget old jobs");
  std::sort(ids.begin(), ids.end());  // RETURNING has no order
  return ids;
}

}  // namespace ftdr::framework
