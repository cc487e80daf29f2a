// redis_subscriber.hpp: the plugin's listening thread: events for the observers, wake-ups for claimers.
//
// One connection SUBSCRIBEs to <prefix>:events (event JSON, redis_job_codec.hpp) and <prefix>:wake (a
// job may be claimable). Its thread calls the observers one event at a time, in the order Redis
// published them (the order the scripts ran), and bumps the WakeSignal claimers wait on. A lost
// connection is restored on the thread's own, with backoff (50 ms doubling, at most 1 s apart, for as
// long as it takes); events published while it was away are not replayed: job() reads the state
// the hash keeps. The first subscription happens in the constructor, so a watcher created before a
// runner acts sees all of that runner's events.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/queue.hpp"
#include "redis_connection.hpp"
#include "redis_settings.hpp"

namespace ftdr::plugins::redis {

// A counter claimers wait on: bumped whenever a job may have become claimable.
class WakeSignal {
 public:
  std::uint64_t generation() const;
  void notify();
  // Returns when the generation differs from `seen`, or after `at_most`.
  void wait_for_change(std::uint64_t seen, std::chrono::milliseconds at_most) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::uint64_t generation_ = 0;
};

class RedisSubscriber {
 public:
  // Throws sdk::Error(internal) naming the Redis address when the first subscription fails.
  RedisSubscriber(const RedisSettings& settings, std::shared_ptr<sdk::Logger> logger, WakeSignal& wake);
  ~RedisSubscriber();  // ends the thread (interrupting a blocked read) and joins it
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  void add(std::shared_ptr<sdk::QueueObserver> observer);

 private:
  std::unique_ptr<RedisConnection> subscribe();  // throws ConnectionLost
  void run();
  void listen(RedisConnection& connection);  // returns when the connection is lost
  bool reconnect();                          // false when stopping
  void dispatch(const redisReply& message);

  RedisSettings settings_;
  std::string events_channel_, wake_channel_;
  std::shared_ptr<sdk::Logger> logger_;
  WakeSignal& wake_;

  std::mutex mutex_;  // guards connection_ (replaced by the thread, interrupted by the destructor)
  std::condition_variable stop_;
  bool stopping_ = false;
  std::unique_ptr<RedisConnection> connection_;

  std::mutex observers_mutex_;
  std::vector<std::shared_ptr<sdk::QueueObserver>> observers_;
  std::thread thread_;
};

}  // namespace ftdr::plugins::redis
