// redis_queue.hpp: the `redis` queue plugin: sdk::JobQueue on Redis Streams (Redis >= 6.2), so one
// `ftdr serve` and `ftdr worker` processes on many machines share one queue.
//
// Design (docs/queue-redis.md):
//   - one stream per priority (<prefix>:q:urgent .. :low), one consumer group "runners"; a claim is
//     one Lua script that looks at each level's next undelivered entry (XRANGE after the group's
//     last-delivered id) and its oldest entry idle for a lease (XPENDING IDLE), picks the most urgent
//     after aging, and takes it with XREADGROUP or XAUTOCLAIM (min-idle = lease_ms);
//   - the job's hash (<prefix>:job:<id>) keeps its fields and its lease: token (= claims so far),
//     leased, lease_until (Redis' clock); every write under a lease is a script that first checks
//     the token, so a runner whose lease expired and was claimed again changes nothing;
//   - events and wake-ups are appended to the stream <prefix>:event_log by the script that changed
//     the hash; each instance reads it from where it left off (RedisEventReader), so an outage loses
//     none; blobs are plain keys <prefix>:blob:<id>:<name>, at most blob_max_bytes each;
//   - Redis outages: every call retries within reconnect_max_ms (RedisLink); enqueue, claim, cancel,
//     complete and release carry a nonce so a retry of a call that did run returns its first answer.
//
// Durability: a job is durable when enqueue() returns as far as Redis is: run Redis with
// `appendonly yes` and `appendfsync always` to keep every acknowledged job across a power loss
// (`everysec`, Redis' default, may lose the last second).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/queue.hpp"
#include "redis_event_reader.hpp"
#include "redis_link.hpp"
#include "redis_settings.hpp"

namespace ftdr::plugins::redis {

class RedisQueue final : public sdk::JobQueue {
 public:
  // Connects (one attempt within connect_timeout_ms), creates the consumer groups, loads the scripts
  // and subscribes. Throws sdk::Error(internal) naming the URL when Redis cannot be reached.
  RedisQueue(RedisSettings settings, std::shared_ptr<sdk::Logger> logger);
  ~RedisQueue() override;

  std::uint64_t enqueue(const std::string& request, sdk::Priority priority, std::int64_t now_ms) override;
  void remove(std::uint64_t id) override;
  std::optional<sdk::QueuedJob> job(std::uint64_t id) const override;
  std::vector<sdk::QueuedJob> jobs() const override;
  bool cancel(std::uint64_t id, const std::string& result, std::int64_t now_ms) override;
  std::vector<std::uint64_t> forget_finished(std::size_t keep) override;
  sdk::QueueDepth depth() const override;
  void watch(std::shared_ptr<sdk::QueueObserver> observer) override;

  std::optional<sdk::Lease> claim(const std::string& worker, std::int64_t wait_ms) override;
  sdk::LeaseState renew(const sdk::Lease& lease) override;
  bool report(const sdk::Lease& lease, const sdk::QueueEvent& event) override;
  bool set_job_dir(const sdk::Lease& lease, const std::string& dir) override;
  bool complete(const sdk::Lease& lease, const std::string& state, const std::string& result,
                std::int64_t now_ms) override;
  bool release(const sdk::Lease& lease) override;

  void put_blob(std::uint64_t job_id, const std::string& name, const std::string& bytes) override;
  std::optional<std::string> get_blob(std::uint64_t job_id, const std::string& name) const override;
  std::vector<std::string> blob_names(std::uint64_t job_id) const override;

  // Runners (redis_runners.cpp): a hash each, listed from a sorted set by last seen.
  void announce(const sdk::RunnerInfo& runner, std::int64_t now_ms) override;
  std::vector<sdk::RunnerInfo> runners(std::int64_t now_ms) const override;

 private:
  struct Scripts {
    LuaScript enqueue, claim, renew, report, set_job_dir, complete, release, cancel, remove, forget_finished,
        jobs, depth, put_blob, announce, runners;
  };
  void check_version();
  void create_groups();
  Scripts load_scripts();
  std::optional<sdk::Lease> try_claim(const std::string& worker);
  // The fenced scripts' common arguments: prefix, job id, token.
  std::vector<std::string> lease_args(const sdk::Lease& lease) const;
  bool fenced(const LuaScript& script, std::vector<std::string> args, const char* what);
  std::string nonce();
  std::string reply_ttl_ms() const;

  std::shared_ptr<sdk::Logger> logger_;
  mutable RedisLink link_;
  const RedisSettings& settings_;
  Scripts scripts_;
  WakeSignal wake_;
  std::unique_ptr<RedisEventReader> events_;
};

}  // namespace ftdr::plugins::redis
