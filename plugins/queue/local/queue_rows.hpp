// queue_rows.hpp: how the `local` queue reads a jobs row, and the small helpers its files share.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "ftdr/sdk/queue.hpp"
#include "sqlite_db.hpp"

namespace ftdr::plugins::local_queue {

// The columns row_job() reads, in its order.
inline constexpr const char* kJobColumns =
    "id, request, priority, state, created_ms, finished_ms, result, job_dir, worker, claims, "
    "cancel_requested";

inline sdk::Priority priority_named(const std::string& name) {
  for (auto p : {sdk::Priority::urgent, sdk::Priority::high, sdk::Priority::normal, sdk::Priority::low})
    if (sdk::to_string(p) == name) return p;
  return sdk::Priority::normal;  // v1 rows hold these four names only
}

inline sdk::QueuedJob row_job(const Statement& s) {
  sdk::QueuedJob j;
  j.id = static_cast<std::uint64_t>(s.integer(0));
  j.request = s.text(1);
  j.priority = priority_named(s.text(2));
  j.state = s.text(3);
  j.created_ms = s.integer(4);
  j.finished_ms = s.integer(5);
  j.result = s.text(6);
  j.job_dir = s.text(7);
  j.worker = s.text(8);
  j.claims = static_cast<std::uint32_t>(s.integer(9));
  j.cancel_requested = s.integer(10) != 0;
  return j;
}

inline std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

inline std::int64_t as_id(std::uint64_t id) { return static_cast<std::int64_t>(id); }

}  // namespace ftdr::plugins::local_queue
