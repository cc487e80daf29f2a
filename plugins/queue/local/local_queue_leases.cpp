// The `local` queue: the runner's side, leases and their fencing tokens (see local_queue.hpp).
#include <sqlite3.h>

#include <algorithm>

#include "local_queue.hpp"
#include "queue_rows.hpp"

namespace ftdr::plugins::local_queue {

std::optional<sdk::Lease> LocalQueue::claim(const std::string& worker, std::int64_t wait_ms) {
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::milliseconds(std::max<std::int64_t>(0, wait_ms));
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (auto lease = try_claim(worker, wall_ms())) return lease;
    const auto now = std::chrono::system_clock::now();
    if (now >= deadline) return std::nullopt;
    // Woken by an addition or a release; a lease that expires meanwhile makes its job claimable.
    auto until = deadline;
    if (const std::int64_t expiry = next_expiry(); expiry > 0)
      until = std::min(until, std::chrono::system_clock::time_point(std::chrono::milliseconds(expiry + 1)));
    claimable_.wait_until(lock, until);
  }
}

namespace {

constexpr const char* kClaimable = "finished_ms = 0 AND (lease_until_ms = 0 OR lease_until_ms <= ?1)";
constexpr const char* kLevel =
    "(CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'low' THEN 3 ELSE 2 END)";

// The most urgent waiting job (aging promotes one level per aging_ms waited), oldest id first.
//
// Without aging only each level's oldest id can win: four lookups in jobs_waiting instead of
// sorting every waiting job on each claim, which a deep queue made the server's largest cost.
// With aging a job's level depends on its created_ms, which the enqueuer gives (not always in id
// order), so every claimable job is ranked; jobs_waiting still keeps the finished ones out.
std::string claim_query(bool aging) {
  const std::string columns = kJobColumns;
  if (aging)
    return "SELECT " + columns + " FROM jobs WHERE " + kClaimable + " ORDER BY MAX(0, " + kLevel +
           " - (?1 - created_ms) / ?2), id LIMIT 1";
  std::string arms;
  for (const char* level : {"urgent", "high", "normal", "low"})
    arms += std::string(arms.empty() ? "" : " UNION ALL ") + "SELECT * FROM (SELECT " + columns +
            " FROM jobs WHERE priority = '" + level + "' AND " + kClaimable + " ORDER BY id LIMIT 1)";
  return "SELECT " + columns + " FROM (" + arms + ") ORDER BY " + kLevel + ", id LIMIT 1";
}

}  // namespace

std::optional<sdk::Lease> LocalQueue::try_claim(const std::string& worker, std::int64_t now_ms) {
  static const std::string fifo = claim_query(false), aged = claim_query(true);
  const bool aging = settings_.aging_ms > 0;
  Statement s(db_, aging ? aged : fifo);
  s.bind(1, now_ms);
  if (aging) s.bind(2, settings_.aging_ms);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) db_.fail("cannot find a job to claim");
  sdk::Lease lease;
  lease.job = row_job(s);
  lease.job.claims += 1;
  lease.job.worker = worker;
  lease.token = lease.job.claims;
  lease.worker = worker;
  unsynced([&] {
    Statement u(db_, "UPDATE jobs SET claims = ?, worker = ?, lease_until_ms = ? WHERE id = ?");
    u.bind(1, static_cast<std::int64_t>(lease.token));
    u.bind(2, worker);
    u.bind(3, now_ms + settings_.lease_ms);
    u.bind(4, as_id(lease.job.id));
    if (u.step() != SQLITE_DONE) db_.fail("cannot lease job " + std::to_string(lease.job.id));
  });
  return lease;
}

// The earliest end of a lease now held; 0 when none is.
std::int64_t LocalQueue::next_expiry() const {
  Statement s(db_, "SELECT MIN(lease_until_ms) FROM jobs WHERE finished_ms = 0 AND lease_until_ms > 0");
  return s.step() == SQLITE_ROW ? s.integer(0) : 0;
}

// The lease is the job's newest, not given back, and the job not finished (nor removed).
bool LocalQueue::holds(const sdk::Lease& lease) const {
  Statement s(db_, "SELECT claims, lease_until_ms, finished_ms FROM jobs WHERE id = ?");
  s.bind(1, as_id(lease.job.id));
  const int rc = s.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) db_.fail("cannot read job " + std::to_string(lease.job.id));
  return rc == SQLITE_ROW && static_cast<std::uint64_t>(s.integer(0)) == lease.token && s.integer(1) != 0 &&
         s.integer(2) == 0;
}

sdk::LeaseState LocalQueue::renew(const sdk::Lease& lease) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!holds(lease)) return sdk::LeaseState::lost;
  bool cancel = false;
  unsynced([&] {
    Statement u(db_, "UPDATE jobs SET lease_until_ms = ? WHERE id = ? RETURNING cancel_requested");
    u.bind(1, wall_ms() + settings_.lease_ms);
    u.bind(2, as_id(lease.job.id));
    if (u.step() != SQLITE_ROW) db_.fail("cannot renew the lease of job " + std::to_string(lease.job.id));
    cancel = u.integer(0) != 0;
    u.step();  // ends the statement (and its commit)
  });
  return cancel ? sdk::LeaseState::cancel_requested : sdk::LeaseState::held;
}

bool LocalQueue::report(const sdk::Lease& lease, const sdk::QueueEvent& event) {
  if (event.kind != sdk::QueueEventKind::state && event.kind != sdk::QueueEventKind::progress)
    throw sdk::Error(
        sdk::ErrorKind::invalid_request,
        "report(): only state and progress events; complete() ends a job, cancel() asks to stop");
  std::lock_guard<std::mutex> lock(mutex_);
  if (!holds(lease)) return false;
  if (event.kind == sdk::QueueEventKind::state)
    unsynced([&] {
      Statement u(db_, "UPDATE jobs SET state = ? WHERE id = ?");
      u.bind(1, event.state);
      u.bind(2, as_id(lease.job.id));
      if (u.step() != SQLITE_DONE) db_.fail("cannot record the state of job " + std::to_string(lease.job.id));
    });
  sdk::QueueEvent posted = event;
  posted.job_id = lease.job.id;
  events_.post(std::move(posted));
  return true;
}

bool LocalQueue::set_job_dir(const sdk::Lease& lease, const std::string& dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!holds(lease)) return false;
  unsynced([&] {
    Statement u(db_, "UPDATE jobs SET job_dir = ? WHERE id = ?");
    u.bind(1, dir);
    u.bind(2, as_id(lease.job.id));
    if (u.step() != SQLITE_DONE)
      db_.fail("cannot record the checkpoint folder of job " + std::to_string(lease.job.id));
  });
  return true;
}

bool LocalQueue::complete(const sdk::Lease& lease, const std::string& state, const std::string& result,
                          std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!holds(lease)) return false;
  Statement u(db_, "UPDATE jobs SET state = ?, result = ?, finished_ms = ?, lease_until_ms = 0 WHERE id = ?");
  u.bind(1, state);
  u.bind(2, result);
  u.bind(3, std::max<std::int64_t>(now_ms, 1));  // 0 would mean "not finished"
  u.bind(4, as_id(lease.job.id));
  if (u.step() != SQLITE_DONE) db_.fail("cannot record the result of job " + std::to_string(lease.job.id));
  events_.post({lease.job.id, sdk::QueueEventKind::finished, state, 0, 0, result});
  return true;
}

bool LocalQueue::release(const sdk::Lease& lease) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!holds(lease)) return false;
    Statement u(db_, "UPDATE jobs SET state = 'queued', lease_until_ms = 0, worker = '' WHERE id = ?");
    u.bind(1, as_id(lease.job.id));
    if (u.step() != SQLITE_DONE) db_.fail("cannot give back job " + std::to_string(lease.job.id));
    events_.post({lease.job.id, sdk::QueueEventKind::state, "queued", 0, 0, ""});
  }
  claimable_.notify_all();
  return true;
}

}  // namespace ftdr::plugins::local_queue
