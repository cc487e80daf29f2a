// fifo_scheduler.h: the `fifo` job scheduler: first submitted, first run; priorities are ignored.
//
// No config keys. Entries are kept in sequence order (QueueEntry::sequence), so a retry that the
// framework re-queues with a new sequence number goes to the back. push O(1), pop_next O(1),
// erase O(n), snapshot O(n). Called under the framework's lock (sdk/scheduler.hpp).
#pragma once
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "ftdr/sdk/scheduler.hpp"

namespace ftdr::plugins {

class FifoScheduler final : public sdk::JobScheduler {
 public:
  void push(const sdk::QueueEntry& entry) override;
  std::optional<std::uint64_t> pop_next(std::int64_t now_ms) override;
  bool erase(std::uint64_t job_id) override;
  std::size_t size() const override { return queue_.size(); }
  std::vector<std::uint64_t> snapshot(std::int64_t now_ms) const override;

 private:
  std::deque<sdk::QueueEntry> queue_;
};

}  // namespace ftdr::plugins
