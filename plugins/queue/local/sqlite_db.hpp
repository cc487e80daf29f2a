// sqlite_db.hpp: the `local` queue's SQLite connection: a prepared statement that finalizes itself,
// and a connection that opens one journal file and names it in every error.
//
//   SqliteDb db(file);                 // opens or creates (WAL, synchronous=FULL)
//   Statement s(db, "SELECT ...");  s.bind(1, id);  while (s.step() == SQLITE_ROW) ...
//   db.exec("BEGIN IMMEDIATE");  ...  db.exec("COMMIT");
//
// Errors are sdk::Error(internal) whose message starts "job journal <file>: ". Not thread-safe: the
// queue serializes its calls.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace ftdr::plugins::local_queue {

class SqliteDb;

class Statement {
 public:
  Statement(sqlite3* db, const char* sql);  // prepared now, finalized at the end
  // The connection's prepared copy of `sql` (prepared at its first use), reset and given back at
  // the end: the queue runs the same few statements for every job, and preparing them each time
  // was a fifth of its SQLite time.
  Statement(const SqliteDb& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return ok_; }
  void bind(int i, std::int64_t v);
  void bind(int i, const std::string& v);
  void bind_blob(int i, const std::string& bytes);
  int step();
  std::int64_t integer(int i) const;
  std::string text(int i) const;  // also reads a BLOB column

 private:
  sqlite3_stmt* stmt_ = nullptr;
  bool ok_ = false;
  const SqliteDb* cache_ = nullptr;  // set: stmt_ goes back to this connection's cache
  std::string sql_;
};

// An exclusive flock(2) on "<file>.lock", held while the object lives (the kernel drops it when the
// process dies, kill -9 included). Close-on-exec: processes this one starts never hold it.
class FileLock {
 public:
  // Throws "job journal <file>: in use by another process ..." when another holder has it.
  explicit FileLock(const std::filesystem::path& file);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

class SqliteDb {
 public:
  explicit SqliteDb(const std::filesystem::path& file);  // throws; leaves a bad file untouched
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  sqlite3* handle() const { return db_; }
  const std::filesystem::path& file() const { return file_; }
  void exec(const std::string& sql) const;
  // Throws "job journal <file>: <what>: <sqlite's message> (not an FTDR journal or damaged; ...)".
  [[noreturn]] void fail(const std::string& what) const;
  // Throws "job journal <file>: <message>".
  [[noreturn]] void refuse(const std::string& message) const;

 private:
  friend class Statement;
  sqlite3_stmt* take(const std::string& sql) const;  // the cached statement, or a new one; null: error
  void give_back(const std::string& sql, sqlite3_stmt* stmt) const;

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  // Statements not in use. A statement in use is out of the map, so the same SQL run nested (a
  // read inside a loop over the same read) prepares a second copy instead of resetting the first.
  mutable std::map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace ftdr::plugins::local_queue
