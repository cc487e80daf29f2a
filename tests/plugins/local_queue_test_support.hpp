// tests/plugins/local_queue_test_support.hpp: what the `local` queue's tests share: a fresh journal
// path, settings over it, and an observer that keeps every event and lets a test wait for them.
#pragma once
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/queue_events.hpp"
#include "local_queue.hpp"

namespace ftdr::test {

namespace lq = ftdr::plugins::local_queue;

inline std::filesystem::path fresh_journal(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("ftdr_local_queue_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir / "journal.sqlite";  // the folder is made by the queue
}

inline lq::LocalQueueSettings queue_settings(const std::filesystem::path& file, std::int64_t lease_ms = 30000,
                                             std::int64_t aging_ms = 0) {
  lq::LocalQueueSettings s;
  s.file = file;
  s.lease_ms = lease_ms;
  s.aging_ms = aging_ms;
  s.blob_max_bytes = 1024;
  return s;
}

inline std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace ftdr::test
