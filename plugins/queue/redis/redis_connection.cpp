#include "redis_connection.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ftdr/sdk/error.hpp"
#include "tls_bridge.hpp"

namespace ftdr::plugins::redis {
namespace {

timeval to_timeval(std::int64_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

// hiredis 0.14 writes with write(2), not send(MSG_NOSIGNAL): a write to a Redis that went away
// raises SIGPIPE, which ends any process that does not ignore it (a plugin must not change the
// process' signal handling). SIGPIPE is blocked on this thread for the call, and one raised meanwhile
// is taken off again; the write itself fails with EPIPE, which is the connection error we report.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) return;  // someone else's: leave it alone
    if (pthread_sigmask(SIG_BLOCK, &pipe, &old_) != 0) return;
    active_ = !sigismember(&old_, SIGPIPE);
    if (!active_) pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ~SigpipeBlocked() {
    if (!active_) return;
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      const timespec now{};
      sigtimedwait(&pipe, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t old_{};
  bool active_ = false;
};

[[noreturn]] void unexpected(const redisReply* r, const char* what) {
  const std::string got = !r            ? "no reply"
                          : is_error(r) ? "error " + std::string(r->str, r->len)
                                        : "reply type " + std::to_string(r->type);
  throw sdk::Error(sdk::ErrorKind::internal, std::string("redis queue: ") + what + ": unexpected " + got);
}

}  // namespace

RedisConnection::RedisConnection(const RedisSettings& s)
    : address_(s.address.display()), timeout_ms_(s.connect_timeout_ms) {
  ctx_.reset(open(s));
  if (ctx_->err) lost("connecting");
  redisSetTimeout(ctx_.get(), to_timeval(s.connect_timeout_ms));
  if (!bridge_) redisEnableKeepAlive(ctx_.get());  // TCP options: the bridge sets them on its socket
  try {
    set_up(s);
  } catch (const ConnectionLost&) {
    // A Redis with tls-auth-clients yes drops a client without a certificate right after the
    // handshake (TLS 1.3), which would otherwise read as an outage and be retried forever.
    if (bridge_ && bridge_->certificate_requested() && !bridge_->failure().empty())
      throw sdk::Error(sdk::ErrorKind::invalid_request, "redis queue: Redis at " + address_ +
                                                            " wants a TLS client certificate and ended the "
                                                            "connection without one (" +
                                                            bridge_->failure() + "): set " +
                                                            TlsContext::client_certificate_keys());
    throw;
  }
  timeout_ms_ = s.command_timeout_ms;
  redisSetTimeout(ctx_.get(), to_timeval(s.command_timeout_ms));
}

RedisConnection::~RedisConnection() = default;

redisContext* RedisConnection::open(const RedisSettings& s) {
  redisContext* c = nullptr;
  if (s.tls) {
    bridge_ =
        std::make_unique<TlsBridge>(*s.tls, s.address.host, s.address.port, address_, s.connect_timeout_ms);
    const int fd = bridge_->take_client_fd();
    c = redisConnectFd(fd);
    if (!c) ::close(fd);
  } else {
    c = redisConnectWithTimeout(s.address.host.c_str(), s.address.port, to_timeval(s.connect_timeout_ms));
  }
  if (!c) throw ConnectionLost("cannot allocate a hiredis context");
  return c;
}

void RedisConnection::set_up(const RedisSettings& s) {
  if (!s.address.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!s.address.user.empty()) auth.push_back(s.address.user);
    auth.push_back(s.address.password);
    Reply r = command(auth);
    if (is_error(r.get()))  // a wrong password is no outage: never retried
      throw sdk::Error(sdk::ErrorKind::invalid_request,
                       "redis queue: Redis at " + address_ + " refused the password (from " +
                           s.address.source +
                           ", [queue.redis] password, password_env or FTDR_REDIS_PASSWORD): " +
                           std::string(r->str, r->len));
  }
  if (s.address.db != 0) {
    Reply r = command({"SELECT", std::to_string(s.address.db)});
    if (is_error(r.get()))
      throw sdk::Error(sdk::ErrorKind::invalid_request,
                       "redis queue: Redis at " + address_ + " refused database " +
                           std::to_string(s.address.db) + ": " + std::string(r->str, r->len));
  }
  Reply pong = command({"PING"});
  if (is_error(pong.get())) {
    const std::string why(pong->str, pong->len);
    if (why.rfind("NOAUTH", 0) == 0)
      throw sdk::Error(
          sdk::ErrorKind::invalid_request,
          "redis queue: Redis at " + address_ +
              " needs a password: set [queue.redis] password_env (or password, or FTDR_REDIS_PASSWORD)");
    throw ConnectionLost("PING answered " + why);  // LOADING: the server is still starting
  }
}

void RedisConnection::lost(const std::string& doing) {
  std::string why = ctx_ ? ctx_->errstr : "no context";
  // hiredis reports a read timeout as EAGAIN's text; say what it means.
  if (ctx_ && ctx_->err == REDIS_ERR_IO &&
      (why == std::strerror(EAGAIN) || why == std::strerror(EWOULDBLOCK)))
    why = "no reply within " + std::to_string(timeout_ms_) + " ms";
  if (why.empty()) why = "connection failed";
  if (bridge_ && !bridge_->failure().empty()) why += " (TLS: " + bridge_->failure() + ")";
  throw ConnectionLost(doing + ": " + why);
}

Reply RedisConnection::command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  SigpipeBlocked quiet;
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (!raw) lost(args.empty() ? "a command" : args[0]);
  return Reply(raw);
}

void RedisConnection::set_reply_timeout(std::int64_t ms) {
  timeout_ms_ = ms;
  redisSetTimeout(ctx_.get(), to_timeval(ms));
}

void RedisConnection::interrupt() {
  if (ctx_ && ctx_->fd >= 0) ::shutdown(ctx_->fd, SHUT_RDWR);
}

bool is_error(const redisReply* r) { return r && r->type == REDIS_REPLY_ERROR; }
bool is_nil(const redisReply* r) { return !r || r->type == REDIS_REPLY_NIL; }

std::string text(const redisReply* r, const char* what) {
  if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) unexpected(r, what);
  return std::string(r->str, r->len);
}

long long integer(const redisReply* r, const char* what) {
  if (r && r->type == REDIS_REPLY_INTEGER) return r->integer;
  const std::string t = text(r, what);
  try {
    std::size_t used = 0;
    const long long v = std::stoll(t, &used);
    if (used == t.size()) return v;
  } catch (const std::exception&) {
  }
  unexpected(r, what);
}

const redisReply& element(const redisReply* r, std::size_t i, const char* what) {
  if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements || !r->element[i]) unexpected(r, what);
  return *r->element[i];
}

std::map<std::string, std::string> field_map(const redisReply* r, const char* what) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) unexpected(r, what);
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2)
    out[text(r->element[i], what)] = text(r->element[i + 1], what);
  return out;
}

}  // namespace ftdr::plugins::redis
