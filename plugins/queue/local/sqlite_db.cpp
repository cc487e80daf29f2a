// The `local` queue's SQLite connection (see sqlite_db.hpp).
#include "sqlite_db.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ftdr/sdk/error.hpp"

namespace ftdr::plugins::local_queue {

Statement::Statement(sqlite3* db, const char* sql) {
  ok_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) == SQLITE_OK;
}

Statement::Statement(const SqliteDb& db, const std::string& sql) : cache_(&db), sql_(sql) {
  stmt_ = db.take(sql_);
  ok_ = stmt_ != nullptr;
}

Statement::~Statement() {
  if (cache_ && stmt_)
    cache_->give_back(sql_, stmt_);
  else
    sqlite3_finalize(stmt_);
}

void Statement::bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }

void Statement::bind(int i, const std::string& v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

void Statement::bind_blob(int i, const std::string& bytes) {
  sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

int Statement::step() { return ok_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }

std::int64_t Statement::integer(int i) const { return sqlite3_column_int64(stmt_, i); }

std::string Statement::text(int i) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))) : std::string();
}

FileLock::FileLock(const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  const std::string lock = file.string() + ".lock";
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw sdk::Error(sdk::ErrorKind::internal,
                     "job journal " + file.string() + ": cannot open " + lock + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int why = errno;
    ::close(fd_);
    throw sdk::Error(
        sdk::ErrorKind::internal,
        "job journal " + file.string() +
            (why == EWOULDBLOCK ? std::string(": in use by another process (one `ftdr serve` owns a "
                                              "local queue; give each server its own [runtime] "
                                              "state_dir or [queue.local] file)")
                                : ": cannot lock " + lock + ": " + std::strerror(why)));
  }
}

FileLock::~FileLock() { ::close(fd_); }

SqliteDb::SqliteDb(const std::filesystem::path& file) : file_(file) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    refuse("cannot open: " + why);
  }
  sqlite3_busy_timeout(db_, 5000);
}

SqliteDb::~SqliteDb() {
  for (const auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);  // else the close fails (busy)
  sqlite3_close(db_);
}

sqlite3_stmt* SqliteDb::take(const std::string& sql) const {
  if (auto it = cache_.find(sql); it != cache_.end()) {
    sqlite3_stmt* stmt = it->second;
    cache_.erase(it);
    return stmt;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return nullptr;
  }
  return stmt;
}

// Reset ends the statement (a read it held, the commit of an autocommit write) as finalizing did.
void SqliteDb::give_back(const std::string& sql, sqlite3_stmt* stmt) const {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (!cache_.emplace(sql, stmt).second) sqlite3_finalize(stmt);  // a nested copy: one is enough
}

void SqliteDb::exec(const std::string& sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string why = message ? message : "unknown error";
    sqlite3_free(message);
    refuse(why);
  }
}

void SqliteDb::fail(const std::string& what) const {
  const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
  refuse(what + ": " + why +
         " (not an FTDR journal or damaged; move the file away to start an empty journal)");
}

void SqliteDb::refuse(const std::string& message) const {
  throw sdk::Error(sdk::ErrorKind::internal, "job journal " + file_.string() + ": " + message);
}

}  // namespace ftdr::plugins::local_queue
