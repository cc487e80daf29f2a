// local_queue.hpp: the `local` queue plugin: a server's jobs in one SQLite file (the job journal of
// `ftdr serve`), leased to the runners of the process that opened it.
//
// Durability: enqueue(), complete(), cancel(), remove(), release() and put_blob() commit in WAL mode
// with synchronous=FULL: once they return, the row survives a crash or a power cut. Concurrent
// enqueue() calls share one commit (group commit). report() of a state, set_job_dir() and claim()
// do not wait for the disk: a killed process loses none of them (the OS holds them); a power cut may
// lose the newest, and the job then runs again as after any restart.
//
// One process owns the file (an flock on "<file>.lock"; a second opener is refused naming the file):
// opening it hands every job an earlier process had leased back to
// "queued", keeping its job_dir, blobs and claim count (its runners are gone with that process).
// The runner registry (announce, runners) is in memory for the same reason (runner_registry.hpp).
// Leases last lease_ms after each claim() or renew(); claim() hands out the most urgent job, with
// aging (aging_ms), first submitted first inside a level. Tokens are the job's claim count.
//
// Config ([queue.local]):
//   file = "<state_dir>/journal.sqlite"   # the journal; state_dir is the host's [runtime] state_dir
//   lease_ms = 30000          # how long a claim or renew holds a job
//   aging_ms = 0              # waiting time per level of promotion; 0 = none
//   blob_max_bytes = 67108864 # the largest blob put_blob() takes
#pragma once
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <mutex>
#include <vector>

#include "event_dispatcher.hpp"
#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/queue.hpp"
#include "runner_registry.hpp"
#include "sqlite_db.hpp"

namespace ftdr::plugins::local_queue {

struct LocalQueueSettings {
  std::filesystem::path file;
  std::int64_t lease_ms = 30000;
  std::int64_t aging_ms = 0;
  std::int64_t blob_max_bytes = 64 << 20;

  // Reads [queue.local]; `state_dir` is the default file's folder. Rejects bad values by key.
  static LocalQueueSettings read(const sdk::ConfigView& config, const std::string& state_dir);
};

class LocalQueue final : public sdk::JobQueue {
 public:
  explicit LocalQueue(LocalQueueSettings settings, std::shared_ptr<sdk::Logger> logger = nullptr);
  ~LocalQueue() override;

  const std::filesystem::path& file() const { return settings_.file; }

  std::uint64_t enqueue(const std::string& request, sdk::Priority priority, std::int64_t now_ms) override;
  void remove(std::uint64_t id) override;
  std::optional<sdk::QueuedJob> job(std::uint64_t id) const override;
  std::vector<sdk::QueuedJob> jobs() const override;
  bool cancel(std::uint64_t id, const std::string& result, std::int64_t now_ms) override;
  std::vector<std::uint64_t> forget_finished(std::size_t keep) override;
  sdk::QueueDepth depth() const override;
  void watch(std::shared_ptr<sdk::QueueObserver> observer) override;

  std::optional<sdk::Lease> claim(const std::string& worker, std::int64_t wait_ms) override;
  sdk::LeaseState renew(const sdk::Lease& lease) override;
  bool report(const sdk::Lease& lease, const sdk::QueueEvent& event) override;
  bool set_job_dir(const sdk::Lease& lease, const std::string& dir) override;
  bool complete(const sdk::Lease& lease, const std::string& state, const std::string& result,
                std::int64_t now_ms) override;
  bool release(const sdk::Lease& lease) override;

  void put_blob(std::uint64_t job_id, const std::string& name, const std::string& bytes) override;
  std::optional<std::string> get_blob(std::uint64_t job_id, const std::string& name) const override;
  std::vector<std::string> blob_names(std::uint64_t job_id) const override;

  void announce(const sdk::RunnerInfo& runner, std::int64_t now_ms) override {
    runners_.announce(runner, now_ms);
  }
  std::vector<sdk::RunnerInfo> runners(std::int64_t now_ms) const override { return runners_.list(now_ms); }

 private:
  struct PendingAdd {
    const std::string& request;
    sdk::Priority priority;
    std::int64_t now_ms;
    std::uint64_t id = 0;
    std::exception_ptr error;
    bool done = false;
  };
  void commit(const std::vector<PendingAdd*>& batch);
  std::optional<sdk::Lease> try_claim(const std::string& worker, std::int64_t now_ms);  // mutex_ held
  std::int64_t next_expiry() const;                                                     // mutex_ held
  bool holds(const sdk::Lease& lease) const;                                            // mutex_ held
  // Runs `work` (one statement, its own commit) without waiting for the disk: synchronous=NORMAL.
  template <typename Work>
  void unsynced(Work&& work);

  LocalQueueSettings settings_;
  FileLock lock_;  // one process owns the file
  SqliteDb db_;
  mutable std::mutex mutex_;           // the connection
  std::condition_variable claimable_;  // a job was added or given back (with mutex_)
  std::mutex batch_mutex_;             // additions waiting for the next group commit
  std::condition_variable batch_cv_;
  std::vector<PendingAdd*> waiting_;
  bool committing_ = false;
  mutable RunnerRegistry runners_{settings_.lease_ms};  // in memory: runners live in this process
  EventDispatcher events_;                              // last: destroyed (and drained) first
};

// A running state, a lease's time or a job folder lost in a power cut changes nothing a restart
// would not redo (every unfinished job is queued again at open), so these skip the fsync.
template <typename Work>
void LocalQueue::unsynced(Work&& work) {
  db_.exec("PRAGMA synchronous=NORMAL");
  try {
    work();
  } catch (...) {
    db_.exec("PRAGMA synchronous=FULL");
    throw;
  }
  db_.exec("PRAGMA synchronous=FULL");
}

}  // namespace ftdr::plugins::local_queue
