// The `local` queue's observer thread (see event_dispatcher.hpp).
#include "event_dispatcher.hpp"

namespace ftdr::plugins::local_queue {

EventDispatcher::EventDispatcher(std::shared_ptr<sdk::Logger> logger)
    : logger_(std::move(logger)), thread_([this] { loop(); }) {}

EventDispatcher::~EventDispatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void EventDispatcher::add(std::shared_ptr<sdk::QueueObserver> observer) {
  std::lock_guard<std::mutex> lock(mutex_);
  observers_.push_back(std::move(observer));
}

void EventDispatcher::post(sdk::QueueEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(std::move(event));
  }
  cv_.notify_one();
}

// One event at a time to every observer, outside the lock (an observer may take a while).
void EventDispatcher::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, and everything posted was delivered
    const sdk::QueueEvent event = std::move(pending_.front());
    pending_.pop_front();
    const auto observers = observers_;
    lock.unlock();
    for (const auto& o : observers) {
      try {
        o->on_event(event);
      } catch (const std::exception& e) {  // one observer's failure must not stop the others' events
        if (logger_) logger_->log(sdk::LogLevel::warn, std::string("queue observer failed: ") + e.what());
      }
    }
    lock.lock();
  }
}

}  // namespace ftdr::plugins::local_queue
