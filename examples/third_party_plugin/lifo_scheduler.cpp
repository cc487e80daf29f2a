#include "lifo_scheduler.hpp"

#include <algorithm>
#include <string>

#include <ftdr/sdk/error.hpp>

namespace lifo {

void LifoScheduler::push(const ftdr::sdk::QueueEntry& entry) {
  if (max_waiting_ != 0 && stack_.size() >= max_waiting_)
    throw ftdr::sdk::Error(
        ftdr::sdk::ErrorKind::invalid_request,
        "lifo scheduler: " + std::to_string(max_waiting_) + " jobs already waiting (max_waiting)");
  stack_.push_back(entry.job_id);
}

std::optional<std::uint64_t> LifoScheduler::pop_next(std::int64_t) {
  if (stack_.empty()) return std::nullopt;
  const std::uint64_t id = stack_.back();
  stack_.pop_back();
  return id;
}

bool LifoScheduler::erase(std::uint64_t job_id) {
  auto it = std::find(stack_.begin(), stack_.end(), job_id);
  if (it == stack_.end()) return false;
  stack_.erase(it);
  return true;
}

std::vector<std::uint64_t> LifoScheduler::snapshot(std::int64_t) const {
  return {stack_.rbegin(), stack_.rend()};
}

}  // namespace lifo
