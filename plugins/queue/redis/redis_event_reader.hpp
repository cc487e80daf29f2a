// redis_event_reader.hpp: the plugin's reading thread: events for the observers, wake-ups for claimers.
//
// The scripts append every event (field e: event JSON, redis_job_codec.hpp) and every wake-up (field
// w: a job that may be claimable) to the stream <prefix>:event_log, in the order they ran. One
// connection reads it with XREAD BLOCK from the last entry handled, so a reader that lost its
// connection (Redis restarted, a network cut) goes on where it stopped and misses nothing: a
// publish-only channel dropped what was sent meanwhile, and a server then showed a finished job as
// running for ever. The thread calls the observers one event at a time, in log order, and bumps the
// WakeSignal claimers wait on.
//
// The log keeps about its newest 10000 entries. A reader that finds entries it never read trimmed
// (it was away or behind that long, or Redis lost its data) catches up from the jobs' hashes instead:
// the catch_up script returns every job and the log position they correspond to, in one step, and
// each job's state becomes one event (finished with its result; its running or "queued" state; a
// cancel when one is requested). A lost connection is restored on the thread's own, with backoff
// (50 ms doubling, at most 1 s apart, for as long as it takes). The starting position is taken in
// the constructor, so a watcher created before a runner acts sees all of that runner's events.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
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

class RedisEventReader {
 public:
  // Throws sdk::Error(internal) naming the Redis address when the log's position cannot be read.
  RedisEventReader(const RedisSettings& settings, std::shared_ptr<sdk::Logger> logger, WakeSignal& wake);
  ~RedisEventReader();  // ends the thread (interrupting a blocked read) and joins it
  RedisEventReader(const RedisEventReader&) = delete;
  RedisEventReader& operator=(const RedisEventReader&) = delete;

  void add(std::shared_ptr<sdk::QueueObserver> observer);

 private:
  std::unique_ptr<RedisConnection> open() const;  // throws ConnectionLost
  void run();
  void read(RedisConnection& connection);             // one XREAD; throws ConnectionLost
  bool reconnect(std::chrono::milliseconds backoff);  // false when stopping
  bool missed_entries(RedisConnection& connection) const;
  void catch_up(RedisConnection& connection);
  [[noreturn]] void refused(const redisReply& reply, const std::string& doing) const;
  void handle(const std::string& field, const std::string& value);
  void dispatch(const sdk::QueueEvent& event);

  RedisSettings settings_;
  std::string log_key_;
  std::shared_ptr<sdk::Logger> logger_;
  WakeSignal& wake_;
  std::string position_ = "0-0";  // the newest log entry handled ("0-0": none); the thread's own after start

  std::mutex mutex_;  // guards connection_ (replaced by the thread, interrupted by the destructor)
  std::condition_variable stop_;
  bool stopping_ = false;
  std::unique_ptr<RedisConnection> connection_;

  std::mutex observers_mutex_;
  std::vector<std::shared_ptr<sdk::QueueObserver>> observers_;
  std::thread thread_;
};

}  // namespace ftdr::plugins::redis
