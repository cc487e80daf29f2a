// The `local` queue: blobs, and its settings (see local_queue.hpp).
#include <sqlite3.h>

#include "local_queue.hpp"
#include "queue_rows.hpp"

namespace ftdr::plugins::local_queue {

LocalQueueSettings LocalQueueSettings::read(const sdk::ConfigView& config, const std::string& state_dir) {
  LocalQueueSettings s;
  const std::string file = config.get_string("file", "");
  if (config.has("file") && file.empty()) config.reject("file", "a path to the journal file");
  s.file = file.empty() ? std::filesystem::path(state_dir) / "journal.sqlite" : std::filesystem::path(file);
  s.lease_ms = config.get_int("lease_ms", s.lease_ms);
  // The host's runners renew about once a second (sdk/queue.hpp): configs keep it at several seconds;
  // tests of expiry use less.
  if (s.lease_ms < 100) config.reject("lease_ms", "a lease duration in milliseconds >= 100");
  s.aging_ms = config.get_int("aging_ms", s.aging_ms);
  if (s.aging_ms < 0) config.reject("aging_ms", "a duration in milliseconds >= 0 (0 = no aging)");
  s.blob_max_bytes = config.get_int("blob_max_bytes", s.blob_max_bytes);
  if (s.blob_max_bytes < 0 || s.blob_max_bytes > (1 << 30))
    config.reject("blob_max_bytes", "a size in bytes from 0 to 1073741824 (SQLite's limit is near 1 GiB)");
  return s;
}

void LocalQueue::put_blob(std::uint64_t job_id, const std::string& name, const std::string& bytes) {
  if (static_cast<std::int64_t>(bytes.size()) > settings_.blob_max_bytes)
    throw sdk::Error(sdk::ErrorKind::invalid_request, "blob '" + name + "' of job " + std::to_string(job_id) +
                                                          " has " + std::to_string(bytes.size()) +
                                                          " bytes, over [queue.local] blob_max_bytes (" +
                                                          std::to_string(settings_.blob_max_bytes) + ")");
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "INSERT OR REPLACE INTO blobs (job_id, name, bytes) VALUES (?, ?, ?)");
  s.bind(1, as_id(job_id));
  s.bind(2, name);
  s.bind_blob(3, bytes);
  if (s.step() != SQLITE_DONE) db_.fail("cannot store blob '" + name + "' of job " + std::to_string(job_id));
}

std::optional<std::string> LocalQueue::get_blob(std::uint64_t job_id, const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "SELECT bytes FROM blobs WHERE job_id = ? AND name = ?");
  s.bind(1, as_id(job_id));
  s.bind(2, name);
  const int rc = s.step();
  if (rc == SQLITE_ROW) return s.text(0);
  if (rc != SQLITE_DONE) db_.fail("cannot read blob '" + name + "' of job " + std::to_string(job_id));
  return std::nullopt;
}

std::vector<std::string> LocalQueue::blob_names(std::uint64_t job_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "SELECT name FROM blobs WHERE job_id = ? ORDER BY name");
  s.bind(1, as_id(job_id));
  std::vector<std::string> names;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) names.push_back(s.text(0));
  if (rc != SQLITE_DONE) db_.fail("cannot list the blobs of job " + std::to_string(job_id));
  return names;
}

}  // namespace ftdr::plugins::local_queue
