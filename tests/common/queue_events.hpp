// tests/common/queue_events.hpp: a QueueObserver that records what a queue plugin tells it, for the
// queue tests to wait on (sdk/queue.hpp).
//
//   auto log = std::make_shared<QueueEventLog>();
//   queue->watch(log);
//   std::vector<sdk::QueueEvent> first = log->wait_for(3);   // the first 3 events
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include "ftdr/sdk/queue.hpp"

namespace ftdr::test {

class QueueEventLog final : public sdk::QueueObserver {
 public:
  void on_event(const sdk::QueueEvent& event) override {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(event);
    cv_.notify_all();
  }
  // The first `count` events, once there are that many; fewer when 20 s pass first (a bound on a
  // hang that the test's own assertions then report, not a timing assertion).
  std::vector<sdk::QueueEvent> wait_for(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return events_.size() >= count; });
    const std::size_t n = events_.size() < count ? events_.size() : count;
    return {events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(n)};
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<sdk::QueueEvent> events_;
};

}  // namespace ftdr::test
