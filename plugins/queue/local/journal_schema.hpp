// journal_schema.hpp: the `local` queue's tables and their versions (SQLite's user_version).
//
//   v1  (FTDR's JobJournal up to SDK 1.2) jobs: id, request, priority, state, created_ms,
//       finished_ms, result, job_dir.
//   v2  jobs gains worker, claims (the newest lease's token), lease_until_ms (0 = not leased) and
//       cancel_requested; a blobs table (job_id, name, bytes).
//
// open_journal() checks the file, switches to WAL with synchronous=FULL and brings a new or v1 file
// to v2 in one transaction (a v1 journal keeps every row). A file from a newer schema, one that is
// not an SQLite database, or a damaged one is refused naming the file; it is never reset.
#pragma once

#include "sqlite_db.hpp"

namespace ftdr::plugins::local_queue {

inline constexpr int kSchemaVersion = 2;

void open_journal(const SqliteDb& db);

}  // namespace ftdr::plugins::local_queue
