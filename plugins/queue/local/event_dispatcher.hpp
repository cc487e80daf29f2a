// event_dispatcher.hpp: hands the queue's events to its observers on one thread of its own, in the
// order they were posted (sdk/queue.hpp: observers never run on the caller's thread, so a caller
// holding its own lock while it reports cannot deadlock against an observer taking that lock).
//
//   EventDispatcher events;
//   events.add(observer);
//   events.post(QueueEvent{id, QueueEventKind::state, "encoding"});   // never blocks on observers
//
// The destructor delivers what was posted before it, then stops the thread.
#pragma once
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/queue.hpp"

namespace ftdr::plugins::local_queue {

class EventDispatcher {
 public:
  explicit EventDispatcher(std::shared_ptr<sdk::Logger> logger);
  ~EventDispatcher();
  EventDispatcher(const EventDispatcher&) = delete;
  EventDispatcher& operator=(const EventDispatcher&) = delete;

  void add(std::shared_ptr<sdk::QueueObserver> observer);
  void post(sdk::QueueEvent event);

 private:
  void loop();

  std::shared_ptr<sdk::Logger> logger_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<sdk::QueueEvent> pending_;
  std::vector<std::shared_ptr<sdk::QueueObserver>> observers_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ftdr::plugins::local_queue
