// The SQLite job journal (see job_journal.hpp).
#include "ftdr/framework/jobs/job_journal.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <deque>
#include <exception>
#include <future>

#include "ftdr/framework/logging.hpp"

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
  committer_ = std::thread([this] { commit_loop(); });
  done_runner_ = std::thread([this] { done_loop(); });
}

// What waits is committed and its callbacks run before the threads end.
JobJournal::~JobJournal() {
  {
    std::lock_guard<std::mutex> lock(batch_mutex_);
    stopping_ = true;
  }
  batch_cv_.notify_one();
  committer_.join();
  {
    std::lock_guard<std::mutex> lock(done_mutex_);
    done_stopping_ = true;
  }
  done_cv_.notify_one();
  done_runner_.join();
  sqlite3_close(db_);
}

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

std::int64_t JobJournal::add(const std::string& request, const std::string& priority, std::int64_t now_ms) {
  std::promise<std::int64_t> added;
  add_async(request, priority, now_ms, [&added](std::int64_t id, std::exception_ptr error) {
    if (error)
      added.set_exception(error);
    else
      added.set_value(id);
  });
  return added.get_future().get();
}

void JobJournal::add_async(std::string request, std::string priority, std::int64_t now_ms, AddDone done) {
  auto id = std::make_shared<std::int64_t>(0);
  write_async(
      [this, id, request = std::move(request), priority = std::move(priority), now_ms] {
        Statement s(db_,
                    "INSERT INTO jobs (request, priority, state, created_ms) VALUES (?, ?, 'queued', ?)");
        s.bind(1, request);
        s.bind(2, priority);
        s.bind(3, now_ms);
        if (!s.ok() || s.step() != SQLITE_DONE) fail("cannot add a job");
        *id = sqlite3_last_insert_rowid(db_);
      },
      [id, done = std::move(done)](std::exception_ptr error) { done(error ? 0 : *id, error); });
}

void JobJournal::remove(std::int64_t id) {
  write([this, id] {
    Statement s(db_, "DELETE FROM jobs WHERE id = ?");
    s.bind(1, id);
    if (!s.ok() || s.step() != SQLITE_DONE) fail("cannot remove job " + std::to_string(id));
  });
}

void JobJournal::finish(std::int64_t id, const std::string& state, const std::string& result,
                        std::int64_t now_ms) {
  write([&] {
    Statement s(db_, "UPDATE jobs SET state = ?, result = ?, finished_ms = ? WHERE id = ?");
    s.bind(1, state);
    s.bind(2, result);
    s.bind(3, now_ms);
    s.bind(4, id);
    if (!s.ok() || s.step() != SQLITE_DONE) fail("cannot record the result of job " + std::to_string(id));
  });
}

// The promise is kept by the committer itself: setting it takes no lock of a caller's.
void JobJournal::write(std::function<void()> apply) {
  std::promise<void> written;
  queue(PendingWrite{std::move(apply),
                     [&written](std::exception_ptr error) {
                       if (error)
                         written.set_exception(error);
                       else
                         written.set_value();
                     },
                     true, nullptr});
  written.get_future().get();
}

void JobJournal::write_async(std::function<void()> apply, std::function<void(std::exception_ptr)> done) {
  queue(PendingWrite{std::move(apply), std::move(done), false, nullptr});
}

void JobJournal::queue(PendingWrite write) {
  {
    std::lock_guard<std::mutex> lock(batch_mutex_);
    waiting_.push_back(std::move(write));
  }
  batch_cv_.notify_one();
}

// Group commit: everything waiting goes in one transaction, one fsync for all of it; what arrives
// meanwhile waits for the next one. At destruction what still waits is committed before the thread
// ends.
void JobJournal::commit_loop() {
  std::unique_lock<std::mutex> lock(batch_mutex_);
  for (;;) {
    batch_cv_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (waiting_.empty()) return;
    std::vector<PendingWrite> batch;
    batch.swap(waiting_);
    lock.unlock();
    commit(batch);
    std::vector<std::function<void()>> later;
    for (PendingWrite& w : batch) {
      if (w.done_here)
        w.done(w.error);
      else
        later.push_back([done = std::move(w.done), error = w.error] { done(error); });
    }
    if (!later.empty()) {
      std::lock_guard<std::mutex> done_lock(done_mutex_);
      for (auto& d : later) dones_.push_back(std::move(d));
      done_cv_.notify_one();
    }
    lock.lock();
  }
}

// The callers' callbacks run here, never on the committer: one that waits for the journal (write())
// or takes a lock held by a thread that does cannot stall the commits.
void JobJournal::done_loop() {
  std::unique_lock<std::mutex> lock(done_mutex_);
  for (;;) {
    done_cv_.wait(lock, [this] { return done_stopping_ || !dones_.empty(); });
    if (dones_.empty()) return;
    std::deque<std::function<void()>> ready;
    ready.swap(dones_);
    lock.unlock();
    for (auto& d : ready) {
      try {
        d();
      } catch (...) {  // a caller's bug must not stop the journal for everyone
      }
    }
    lock.lock();
  }
}

// Each write in its own savepoint: one that fails (its job's row is gone, say) is undone alone and
// fails alone; a failed COMMIT fails them all.
void JobJournal::commit(std::vector<PendingWrite>& batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    exec("BEGIN IMMEDIATE");
    for (PendingWrite& w : batch) {
      exec("SAVEPOINT one_write");
      try {
        w.apply();
      } catch (...) {
        w.error = std::current_exception();
        exec("ROLLBACK TO one_write");
      }
      exec("RELEASE one_write");
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);  // none of the batch was written
    for (PendingWrite& w : batch) w.error = std::current_exception();
  }
}

// A running state is not waited for: it goes with the next group commit. Losing the newest one in
// a crash changes nothing (a restart runs every unfinished job again, whatever running state it
// had), and the job's thread never waits for the disk on a state change.
void JobJournal::set_state(std::int64_t id, const std::string& state) {
  write_async(
      [this, id, state] {
        Statement s(db_, "UPDATE jobs SET state = ? WHERE id = ?");
        s.bind(1, state);
        s.bind(2, id);
        if (!s.ok() || s.step() != SQLITE_DONE) fail("cannot record the state of job " + std::to_string(id));
      },
      [](std::exception_ptr error) {
        try {
          if (error) std::rethrow_exception(error);
        } catch (const std::exception& e) {
          host_logger()->error("{}", e.what());
        }
      });
}

// Waited for: written before the job's first checkpoint, so a restart finds the checkpoints.
void JobJournal::set_job_dir(std::int64_t id, const std::string& dir) {
  write([&] {
    Statement s(db_, "UPDATE jobs SET job_dir = ? WHERE id = ?");
    s.bind(1, dir);
    s.bind(2, id);
    if (!s.ok() || s.step() != SQLITE_DONE)
      fail("cannot record the checkpoint folder of job " + std::to_string(id));
  });
}

std::vector<JournalEntry> JobJournal::entries() {
  write([] {});  // every earlier write committed first (set_state() does not wait for its own)
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
  std::vector<std::int64_t> ids;
  write([&] {
    Statement s(db_,
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_ms > 0 ORDER BY id DESC "
                "LIMIT -1 OFFSET ?) RETURNING id");
    s.bind(1, static_cast<std::int64_t>(keep));
    int rc = 0;
    while (s.ok() && (rc = s.step()) == SQLITE_ROW) ids.push_back(s.integer(0));
    if (!s.ok() || rc != SQLITE_DONE) fail("cannot forget old jobs");
  });
  std::sort(ids.begin(), ids.end());  // RETURNING has no order
  return ids;
}

}  // namespace ftdr::framework
