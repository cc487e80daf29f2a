// plugin.cpp: the `redis` queue plugin's factory and declaration.
#include <memory>

#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/plugin.hpp"
#include "ftdr/sdk/queue.hpp"
#include "redis_queue.hpp"

namespace {

// [queue.redis] (redis_settings.hpp); the URL and password may come from the environment.
std::unique_ptr<ftdr::sdk::JobQueue> make(const ftdr::sdk::PluginContext& ctx) {
  namespace r = ftdr::plugins::redis;
  if (!ctx.config)
    throw ftdr::sdk::Error(ftdr::sdk::ErrorKind::internal, "redis queue: no [queue.redis] table given");
  r::RedisSettings settings = r::read_redis_settings(*ctx.config, r::process_env());
  if (ctx.check_only) return nullptr;  // `ftdr check-config`: the table is read; Redis not asked
  return std::make_unique<r::RedisQueue>(std::move(settings), ctx.logger);
}

}  // namespace

FTDR_DECLARE_PLUGIN(queue, "redis", "1.0.0",
                    "jobs in Redis Streams (>= 6.2) shared by servers and workers on many machines: leases, "
                    "priorities with aging, events over pub/sub, blobs",
                    make)
