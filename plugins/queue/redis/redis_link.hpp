// redis_link.hpp: the queue's commands to Redis, over a pool of connections, surviving outages.
//
// Any thread may call run() or eval(); each call takes a connection of its own from the pool (a new
// one when none is free), so concurrent callers do not wait for each other. A lost connection
// (refused, reset, no reply within command_timeout_ms) or a server still loading its data is retried
// with backoff (50 ms, doubling, at most 1 s apart) for up to reconnect_max_ms; past that the call
// throws sdk::Error(internal) naming the Redis address. A retried command may have run once already
// (its reply was what got lost): the queue's scripts make their retries harmless (redis_scripts.hpp).
//
//   RedisLink link(settings, logger);
//   link.connect_first();                                  // create(): one attempt, no retry
//   Reply state = link.run({"HGET", "ftdr:job:7", "state"}, "job()");
//   Reply id = link.eval(script, {prefix, ...}, "enqueue()");
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ftdr/sdk/logger.hpp"
#include "redis_connection.hpp"
#include "redis_settings.hpp"

namespace ftdr::plugins::redis {

// A Lua script and its SHA1 as Redis computed it (SCRIPT LOAD).
struct LuaScript {
  std::string source;
  std::string sha;
};

class RedisLink {
 public:
  RedisLink(RedisSettings settings, std::shared_ptr<sdk::Logger> logger);

  // One connection attempt within connect_timeout_ms, kept in the pool. Throws sdk::Error(internal)
  // "cannot reach Redis at <url> (<where the URL came from>) within connect_timeout_ms = N: <why>".
  void connect_first();
  // Runs one command; an error reply throws sdk::Error(internal) naming `what`.
  Reply run(const std::vector<std::string>& args, const char* what);
  // SCRIPT LOAD: the script's SHA1, for eval().
  LuaScript load(const std::string& source);
  // EVALSHA with no keys (every script finds its keys from the prefix in ARGV[1]); sends the source
  // again when Redis lost its script cache (a restart).
  Reply eval(const LuaScript& script, const std::vector<std::string>& args, const char* what);

  const RedisSettings& settings() const { return settings_; }
  const std::string& address() const { return address_; }

 private:
  Reply run_allowing_errors(const std::vector<std::string>& args);  // retries outages only
  std::unique_ptr<RedisConnection> take(bool& pooled);
  void give_back(std::unique_ptr<RedisConnection> connection);
  void drop_pool();
  [[noreturn]] void refused(const redisReply* reply, const char* what) const;

  RedisSettings settings_;
  std::string address_;
  std::shared_ptr<sdk::Logger> logger_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;
};

}  // namespace ftdr::plugins::redis
