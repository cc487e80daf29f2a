// lifo_scheduler.hpp: a "last in, first out" job scheduler: the newest job runs first, which keeps
// an interactive user's latest request snappy when old ones pile up.
//
// Config ([scheduler.lifo]):
//   max_waiting = 0   # refuse to hold more than this many jobs (0 = no limit); the host's own
//                     # [runtime] queue_capacity still applies
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include <ftdr/sdk/scheduler.hpp>

namespace lifo {

class LifoScheduler final : public ftdr::sdk::JobScheduler {
 public:
  explicit LifoScheduler(std::size_t max_waiting) : max_waiting_(max_waiting) {}

  void push(const ftdr::sdk::QueueEntry& entry) override;
  std::optional<std::uint64_t> pop_next(std::int64_t now_ms) override;
  bool erase(std::uint64_t job_id) override;
  std::size_t size() const override { return stack_.size(); }
  std::vector<std::uint64_t> snapshot(std::int64_t now_ms) const override;

 private:
  std::size_t max_waiting_;
  std::vector<std::uint64_t> stack_;  // back() is the newest
};

}  // namespace lifo
