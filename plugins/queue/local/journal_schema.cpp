// The `local` queue's schema and its migrations (see journal_schema.hpp).
#include "journal_schema.hpp"

#include <sqlite3.h>

namespace ftdr::plugins::local_queue {
namespace {

// Exactly v1's table (JobJournal's), so that a new file takes the same migration as an old one.
constexpr const char* kCreateV1 =
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " request TEXT NOT NULL,"
    " priority TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " finished_ms INTEGER NOT NULL DEFAULT 0,"
    " result TEXT NOT NULL DEFAULT '',"
    " job_dir TEXT NOT NULL DEFAULT '')";

constexpr const char* kV1ToV2 =
    "ALTER TABLE jobs ADD COLUMN worker TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE blobs (job_id INTEGER NOT NULL, name TEXT NOT NULL, bytes BLOB NOT NULL,"
    " PRIMARY KEY (job_id, name));";

// Refuses a file that is not a readable SQLite database, is damaged, or is from a newer schema;
// returns its version. The statements end here: an open one would keep a read transaction and
// block the WAL switch.
std::int64_t check_readable(const SqliteDb& db) {
  std::int64_t found = 0;
  {
    // The first read of a file that is not a database fails here ("file is not a database").
    Statement version(db.handle(), "PRAGMA user_version");
    if (!version.ok() || version.step() != SQLITE_ROW) db.fail("cannot read");
    found = version.integer(0);
  }
  if (found > kSchemaVersion)
    db.refuse("schema version " + std::to_string(found) + " is newer than this FTDR's (" +
              std::to_string(kSchemaVersion) +
              "); run the FTDR that wrote it, or move the file away to start an empty journal");
  Statement check(db.handle(), "PRAGMA quick_check");
  if (!check.ok() || check.step() != SQLITE_ROW) db.fail("cannot check");
  if (check.text(0) != "ok")
    db.refuse("damaged (" + check.text(0) + "); move the file away to start an empty journal");
  return found;
}

void migrate(const SqliteDb& db) {
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(kCreateV1);
    db.exec(kV1ToV2);
    db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    db.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);  // the file stays as it was
    throw;
  }
}

}  // namespace

void open_journal(const SqliteDb& db) {
  const std::int64_t version = check_readable(db);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=FULL");
  if (version != kSchemaVersion) migrate(db);
  // Each level's waiting jobs in id order, for claims (try_claim()): without it every claim
  // sorted every waiting job and walked the finished ones kept for listing. An index is no schema
  // change: an FTDR without it opens the file and keeps the index up to date.
  db.exec("CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs (priority, id) WHERE finished_ms = 0");
}

}  // namespace ftdr::plugins::local_queue
