#include "redis_link.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "ftdr/sdk/error.hpp"

namespace ftdr::plugins::redis {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{1000};

// Error replies that mean "not now" rather than "no": a server loading its AOF after a restart, a
// script running long, a replica without its primary.
bool transient(const redisReply* r) {
  const std::string e(r->str, r->len);
  const std::string code = e.substr(0, e.find(' '));  // the error's first word (BUSYGROUP is no BUSY)
  for (const char* transient_code : {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN"})
    if (code == transient_code) return true;
  return false;
}

std::int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

}  // namespace

RedisLink::RedisLink(RedisSettings settings, std::shared_ptr<sdk::Logger> logger)
    : settings_(std::move(settings)), address_(settings_.address.display()), logger_(std::move(logger)) {}

void RedisLink::connect_first() {
  try {
    give_back(std::make_unique<RedisConnection>(settings_));
  } catch (const ConnectionLost& e) {
    throw sdk::Error(sdk::ErrorKind::internal,
                     "redis queue: cannot reach Redis at " + address_ + " (" + settings_.address.source +
                         ") within connect_timeout_ms = " + std::to_string(settings_.connect_timeout_ms) +
                         ": " + e.what());
  }
}

std::unique_ptr<RedisConnection> RedisLink::take(bool& pooled) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pooled = !idle_.empty();
    if (pooled) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return std::make_unique<RedisConnection>(settings_);  // outside the lock: it may take a while
}

void RedisLink::give_back(std::unique_ptr<RedisConnection> connection) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(connection));
}

void RedisLink::drop_pool() {
  std::vector<std::unique_ptr<RedisConnection>> dead;
  std::lock_guard<std::mutex> lock(mutex_);
  dead.swap(idle_);
}

Reply RedisLink::run_allowing_errors(const std::vector<std::string>& args) {
  const auto start = Clock::now();
  auto backoff = kFirstBackoff;
  std::string why;
  bool warned = false;
  for (;;) {
    bool pooled = false;
    try {
      auto connection = take(pooled);
      Reply reply = connection->command(args);
      give_back(std::move(connection));
      if (!is_error(reply.get()) || !transient(reply.get())) {
        if (warned)
          logger_->info("redis queue: Redis at " + address_ + " answers again after " +
                        std::to_string(ms_since(start)) + " ms");
        return reply;
      }
      why = std::string(reply->str, reply->len);
    } catch (const ConnectionLost& e) {
      why = e.what();
      if (pooled) {  // a pooled connection may be stale (Redis restarted): the others are too
        drop_pool();
        continue;
      }
    }
    if (ms_since(start) + backoff.count() > settings_.reconnect_max_ms)
      throw sdk::Error(sdk::ErrorKind::internal,
                       "redis queue: Redis at " + address_ + " is unreachable: " + why + " (retried for " +
                           std::to_string(ms_since(start)) + " ms; [queue.redis] reconnect_max_ms = " +
                           std::to_string(settings_.reconnect_max_ms) + ")");
    if (!warned) {
      logger_->warn("redis queue: lost Redis at " + address_ + " (" + why + "); retrying for up to " +
                    std::to_string(settings_.reconnect_max_ms) + " ms");
      warned = true;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

void RedisLink::refused(const redisReply* reply, const char* what) const {
  throw sdk::Error(sdk::ErrorKind::internal, std::string("redis queue: ") + what + ": Redis at " + address_ +
                                                 " answered: " + std::string(reply->str, reply->len));
}

Reply RedisLink::run(const std::vector<std::string>& args, const char* what) {
  Reply reply = run_allowing_errors(args);
  if (is_error(reply.get())) refused(reply.get(), what);
  return reply;
}

LuaScript RedisLink::load(const std::string& source) {
  Reply sha = run({"SCRIPT", "LOAD", source}, "loading a script");
  return LuaScript{source, text(sha.get(), "SCRIPT LOAD")};
}

Reply RedisLink::eval(const LuaScript& script, const std::vector<std::string>& args, const char* what) {
  std::vector<std::string> call{"EVALSHA", script.sha, "0"};
  call.insert(call.end(), args.begin(), args.end());
  Reply reply = run_allowing_errors(call);
  if (is_error(reply.get()) && std::string(reply->str, reply->len).rfind("NOSCRIPT", 0) == 0) {
    call[0] = "EVAL";  // Redis restarted and forgot its scripts; EVAL caches the script again
    call[1] = script.source;
    reply = run_allowing_errors(call);
  }
  if (is_error(reply.get())) refused(reply.get(), what);
  return reply;
}

}  // namespace ftdr::plugins::redis
