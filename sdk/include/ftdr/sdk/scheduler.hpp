// ftdr/sdk/scheduler.hpp: job scheduler plugins decide the order in which queued jobs run.
//
// Ordering only: the framework owns the queue's threads and its lock, and calls every method with
// that lock held, so an implementation needs no synchronisation of its own. Job ids are unique.
//
//   class Fifo final : public JobScheduler {
//     std::deque<QueueEntry> q_;
//     void push(const QueueEntry& e) override { q_.push_back(e); }
//     std::optional<std::uint64_t> pop_next(std::int64_t) override {
//       if (q_.empty()) return std::nullopt;
//       auto id = q_.front().job_id; q_.pop_front(); return id;
//     }
//     ...
//   };
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ftdr/sdk/plugin.hpp"

namespace ftdr::sdk {

enum class Priority { urgent = 0, high = 1, normal = 2, low = 3 };

inline constexpr std::string_view to_string(Priority p) noexcept {
  switch (p) {
    case Priority::urgent: return "urgent";
    case Priority::high: return "high";
    case Priority::normal: return "normal";
    case Priority::low: return "low";
  }
  return "normal";
}

struct QueueEntry {
  std::uint64_t job_id = 0;
  Priority priority = Priority::normal;
  std::uint64_t sequence = 0;     // submission order, strictly increasing
  std::int64_t submitted_ms = 0;  // steady-clock milliseconds at submission
};

class FTDR_SDK_INTERFACE JobScheduler : public Plugin {
 public:
  // Required. Adds a job.
  virtual void push(const QueueEntry& entry) = 0;
  // Required. Removes and returns the job to run next, or nothing when empty. now_ms is the
  // steady-clock time in milliseconds, for schedulers that age entries.
  virtual std::optional<std::uint64_t> pop_next(std::int64_t now_ms) = 0;
  // Required. Removes a queued job (cancellation); false when it is not queued.
  virtual bool erase(std::uint64_t job_id) = 0;
  virtual std::size_t size() const = 0;
  // Required. The queued ids in the order pop_next would return them at now_ms.
  virtual std::vector<std::uint64_t> snapshot(std::int64_t now_ms) const = 0;
};

template <>
struct plugin_interface<PluginKind::scheduler> {
  using type = JobScheduler;
};

}  // namespace ftdr::sdk
