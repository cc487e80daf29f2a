// The `local` queue: the server's side (see local_queue.hpp).
#include "local_queue.hpp"

#include <sqlite3.h>

#include <algorithm>

#include "journal_schema.hpp"
#include "queue_rows.hpp"

namespace ftdr::plugins::local_queue {

LocalQueue::LocalQueue(LocalQueueSettings settings, std::shared_ptr<sdk::Logger> logger)
    : settings_(std::move(settings)), lock_(settings_.file), db_(settings_.file), events_(std::move(logger)) {
  open_journal(db_);
  // The process that leased these jobs is gone (one process owns the file): they wait again, with
  // their folders, for this process's runners.
  db_.exec("UPDATE jobs SET state = 'queued', lease_until_ms = 0, worker = '' WHERE finished_ms = 0");
}

LocalQueue::~LocalQueue() = default;

// Group commit: additions that arrive while one commit is under way wait and go together in the
// next transaction, one fsync for all of them. The first caller to find no commit running commits
// everything waiting (its own addition included); the others wait for their row's outcome.
std::uint64_t LocalQueue::enqueue(const std::string& request, sdk::Priority priority, std::int64_t now_ms) {
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

void LocalQueue::commit(const std::vector<PendingAdd*>& batch) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      db_.exec("BEGIN IMMEDIATE");
      for (PendingAdd* p : batch) {
        Statement s(db_,
                    "INSERT INTO jobs (request, priority, state, created_ms) VALUES (?, ?, 'queued', ?)");
        s.bind(1, p->request);
        s.bind(2, std::string(sdk::to_string(p->priority)));
        s.bind(3, p->now_ms);
        if (s.step() != SQLITE_DONE) db_.fail("cannot add a job");
        p->id = static_cast<std::uint64_t>(sqlite3_last_insert_rowid(db_.handle()));
      }
      db_.exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);  // no row of the batch was added
      for (PendingAdd* p : batch) p->error = std::current_exception();
      return;
    }
  }
  claimable_.notify_all();
}

void LocalQueue::remove(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  db_.exec("BEGIN IMMEDIATE");
  try {
    for (const char* sql : {"DELETE FROM jobs WHERE id = ?", "DELETE FROM blobs WHERE job_id = ?"}) {
      Statement s(db_, sql);
      s.bind(1, as_id(id));
      if (s.step() != SQLITE_DONE) db_.fail("cannot remove job " + std::to_string(id));
    }
    db_.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::optional<sdk::QueuedJob> LocalQueue::job(std::uint64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?"));
  s.bind(1, as_id(id));
  const int rc = s.step();
  if (rc == SQLITE_ROW) return row_job(s);
  if (rc != SQLITE_DONE) db_.fail("cannot read job " + std::to_string(id));
  return std::nullopt;
}

std::vector<sdk::QueuedJob> LocalQueue::jobs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs ORDER BY id"));
  std::vector<sdk::QueuedJob> out;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(row_job(s));
  if (rc != SQLITE_DONE) db_.fail("cannot read the jobs");
  return out;
}

// A job whose lease has expired counts as waiting: no runner is known to hold it.
bool LocalQueue::cancel(std::uint64_t id, const std::string& result, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement row(db_, "SELECT finished_ms, lease_until_ms FROM jobs WHERE id = ?");
  row.bind(1, as_id(id));
  if (row.step() != SQLITE_ROW || row.integer(0) != 0) return false;
  const bool leased = row.integer(1) > wall_ms();
  Statement s(db_, leased ? "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1"
                          : "UPDATE jobs SET state = 'cancelled', result = ?2, finished_ms = ?3, "
                            "lease_until_ms = 0 WHERE id = ?1");
  s.bind(1, as_id(id));
  if (!leased) {
    s.bind(2, result);
    s.bind(3, now_ms);
  }
  if (s.step() != SQLITE_DONE) db_.fail("cannot cancel job " + std::to_string(id));
  if (leased)
    events_.post({id, sdk::QueueEventKind::cancel, "", 0, 0, ""});
  else
    events_.post({id, sdk::QueueEventKind::finished, "cancelled", 0, 0, result});
  return true;
}

std::vector<std::uint64_t> LocalQueue::forget_finished(std::size_t keep) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::uint64_t> ids;
  db_.exec("BEGIN IMMEDIATE");
  try {
    Statement s(db_,
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_ms > 0 ORDER BY id DESC "
                "LIMIT -1 OFFSET ?) RETURNING id");
    s.bind(1, static_cast<std::int64_t>(keep));
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) ids.push_back(static_cast<std::uint64_t>(s.integer(0)));
    if (rc != SQLITE_DONE) db_.fail("cannot forget old jobs");
    if (!ids.empty()) db_.exec("DELETE FROM blobs WHERE job_id NOT IN (SELECT id FROM jobs)");
    db_.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  std::sort(ids.begin(), ids.end());  // RETURNING has no order
  return ids;
}

sdk::QueueDepth LocalQueue::depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_,
              "SELECT priority, COUNT(*), MIN(created_ms) FROM jobs WHERE finished_ms = 0 AND "
              "(lease_until_ms = 0 OR lease_until_ms <= ?) GROUP BY priority");
  s.bind(1, wall_ms());
  sdk::QueueDepth d;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    const auto level = static_cast<std::size_t>(priority_named(s.text(0)));
    d.waiting[level] += static_cast<std::uint64_t>(s.integer(1));
    d.oldest_ms[level] = d.oldest_ms[level] == 0 ? s.integer(2) : std::min(d.oldest_ms[level], s.integer(2));
  }
  if (rc != SQLITE_DONE) db_.fail("cannot count the waiting jobs");
  return d;
}

void LocalQueue::watch(std::shared_ptr<sdk::QueueObserver> observer) { events_.add(std::move(observer)); }

}  // namespace ftdr::plugins::local_queue
