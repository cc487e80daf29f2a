// redis_connection.hpp: one hiredis connection (synchronous API of hiredis 0.14) and its replies.
//
// A RedisConnection is used by one thread at a time. It connects, authenticates, selects the
// database and PINGs within connect_timeout_ms (a stopped Redis still accepts TCP connections, so
// the PING is what proves it answers), then waits at most command_timeout_ms for each reply. With
// TLS (rediss://) hiredis talks through a TlsBridge (tls_bridge.hpp) instead of its own TCP socket.
//
//   RedisConnection c(settings);                        // throws ConnectionLost or sdk::Error
//   Reply r = c.command({"HGET", "ftdr:job:7", "state"});  // an error reply is a Reply too
#pragma once
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <hiredis/hiredis.h>

#include "redis_settings.hpp"

namespace ftdr::plugins::redis {

// The connection broke (refused, reset, closed, no reply in time): worth reconnecting and retrying.
class ConnectionLost : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class TlsBridge;

class RedisConnection {
 public:
  explicit RedisConnection(const RedisSettings& settings);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command (binary-safe arguments) and reads its reply. Throws ConnectionLost when the
  // connection failed; the connection is unusable afterwards.
  Reply command(const std::vector<std::string>& args);
  // Replaces command_timeout_ms for the replies from now on (a blocking read waits longer by design).
  void set_reply_timeout(std::int64_t ms);
  // Ends a command() blocked on another thread (it then throws ConnectionLost).
  void interrupt();

 private:
  redisContext* open(const RedisSettings& s);  // TCP or TLS; never null
  void set_up(const RedisSettings& s);         // AUTH, SELECT, PING
  [[noreturn]] void lost(const std::string& doing);

  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  std::unique_ptr<TlsBridge> bridge_;  // declared first: outlives ctx_, whose socket it serves
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  std::string address_;
  std::int64_t timeout_ms_ = 0;
};

// Reply helpers. Each throws sdk::Error(internal) naming `what` when the reply has another type.
bool is_error(const redisReply* r);
bool is_nil(const redisReply* r);
std::string text(const redisReply* r, const char* what);   // string or status
long long integer(const redisReply* r, const char* what);  // integer, or a string of digits
const redisReply& element(const redisReply* r, std::size_t i, const char* what);      // of an array
std::map<std::string, std::string> field_map(const redisReply* r, const char* what);  // HGETALL

}  // namespace ftdr::plugins::redis
