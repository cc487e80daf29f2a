#include "fifo_scheduler.hpp"

#include <algorithm>

namespace ftdr::plugins {

void FifoScheduler::push(const sdk::QueueEntry& entry) {
  // Entries normally arrive in sequence order; keep the queue sorted if one does not.
  auto pos = queue_.end();
  while (pos != queue_.begin() && std::prev(pos)->sequence > entry.sequence) --pos;
  queue_.insert(pos, entry);
}

std::optional<std::uint64_t> FifoScheduler::pop_next(std::int64_t) {
  if (queue_.empty()) return std::nullopt;
  const std::uint64_t id = queue_.front().job_id;
  queue_.pop_front();
  return id;
}

bool FifoScheduler::erase(std::uint64_t job_id) {
  auto it = std::find_if(queue_.begin(), queue_.end(),
                         [&](const sdk::QueueEntry& e) { return e.job_id == job_id; });
  if (it == queue_.end()) return false;
  queue_.erase(it);
  return true;
}

std::vector<std::uint64_t> FifoScheduler::snapshot(std::int64_t) const {
  std::vector<std::uint64_t> ids;
  ids.reserve(queue_.size());
  for (const auto& e : queue_) ids.push_back(e.job_id);
  return ids;
}

}  // namespace ftdr::plugins
