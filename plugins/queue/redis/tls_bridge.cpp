#include "tls_bridge.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>

#include "ftdr/sdk/error.hpp"
#include "redis_connection.hpp"

namespace ftdr::plugins::redis {
namespace {

constexpr std::size_t kChunk = 16 * 1024;
constexpr std::size_t kMaxPending = 1024 * 1024;  // server bytes held for hiredis before reading more

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Connects one address without blocking past deadline_ms; the socket, or -1 with errno set.
int connect_one(const addrinfo& a, std::int64_t deadline_ms) {
  const int fd = ::socket(a.ai_family, a.ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a.ai_protocol);
  if (fd < 0) return -1;
  if (::connect(fd, a.ai_addr, a.ai_addrlen) == 0) return fd;
  if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    const auto left = deadline_ms - now_ms();
    if (left > 0 && ::poll(&p, 1, static_cast<int>(left)) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) return fd;
      errno = err;
    } else {
      errno = ETIMEDOUT;
    }
  }
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return -1;
}

// Why an SSL call failed, as failure() reports it; "" when it only has to wait (`events` then says
// for what on the TCP socket).
std::string ssl_trouble(SSL* ssl, int rc, short& events) {
  const int e = SSL_get_error(ssl, rc);
  if (e == SSL_ERROR_WANT_READ) events |= POLLIN;
  if (e == SSL_ERROR_WANT_WRITE) events |= POLLOUT;
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return "";
  if (e == SSL_ERROR_ZERO_RETURN) return "the server closed the TLS session";
  if (e == SSL_ERROR_SYSCALL)
    return openssl_error(errno ? std::strerror(errno) : "the server closed the connection");
  return openssl_error("TLS error");
}

}  // namespace

struct TlsBridge::Buffers {
  std::string up;    // from hiredis, not yet written to the TLS session
  std::string down;  // from the TLS session, not yet written to hiredis
};

TlsBridge::TlsBridge(const TlsContext& tls, std::string host, int port, std::string address,
                     std::int64_t timeout_ms)
    : tls_(tls), host_(std::move(host)), address_(std::move(address)), port_(port), timeout_ms_(timeout_ms) {
  auto ready = std::make_shared<std::promise<void>>();  // shared: the thread may outlive this frame's
  auto connected = ready->get_future();
  thread_ = std::thread([this, ready] {
    // SIGPIPE stays blocked on this thread: a write to a vanished server must fail with EPIPE.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    try {
      run();
    } catch (...) {
      ready->set_exception(std::current_exception());
      return;
    }
    ready->set_value();
    pump();
  });
  try {
    connected.get();
  } catch (...) {
    close_all();  // no destructor runs for a constructor that throws
    throw;
  }
}

TlsBridge::~TlsBridge() { close_all(); }

void TlsBridge::close_all() {
  if (pump_end_ >= 0) ::shutdown(pump_end_, SHUT_RDWR);  // the pump's poll sees POLLHUP and ends
  if (thread_.joinable()) thread_.join();
  if (ssl_) SSL_free(ssl_);
  ssl_ = nullptr;
  for (int* fd : {&tcp_, &pump_end_, &client_end_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

int TlsBridge::take_client_fd() {
  const int fd = client_end_;
  client_end_ = -1;
  return fd;
}

std::string TlsBridge::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

void TlsBridge::run() {
  deadline_ms_ = now_ms() + timeout_ms_;
  connect_tcp();
  handshake();
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    throw ConnectionLost(std::string("socketpair: ") + std::strerror(errno));
  pump_end_ = pair[0];
  client_end_ = pair[1];  // blocking: hiredis' synchronous API expects that
  set_nonblocking(pump_end_);
}

void TlsBridge::connect_tcp() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &found);
  if (rc != 0) throw ConnectionLost("connecting: cannot resolve " + host_ + ": " + ::gai_strerror(rc));
  int err = ECONNREFUSED;
  for (const addrinfo* a = found; a && tcp_ < 0; a = a->ai_next) {
    tcp_ = connect_one(*a, deadline_ms_);
    if (tcp_ < 0) err = errno;
  }
  ::freeaddrinfo(found);
  if (tcp_ < 0) throw ConnectionLost(std::string("connecting: ") + std::strerror(err));
  const int on = 1;  // as hiredis does for its own TCP connections
  ::setsockopt(tcp_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  ::setsockopt(tcp_, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
}

bool TlsBridge::wait_for(int fd, short events) {
  const auto left = deadline_ms_ - now_ms();
  pollfd p{fd, events, 0};
  return left > 0 && ::poll(&p, 1, static_cast<int>(left)) == 1;
}

void TlsBridge::handshake() {
  ssl_ = SSL_new(tls_.get());
  if (!ssl_) throw ConnectionLost("TLS: " + openssl_error("SSL_new failed"));
  SSL_set_fd(ssl_, tcp_);
  SSL_set1_host(ssl_, host_.c_str());  // OpenSSL 3 checks an IP literal against the IP SANs
  if (!is_ip_literal(host_)) SSL_set_tlsext_host_name(ssl_, host_.c_str());  // SNI takes names only
  watch_certificate_requests(ssl_, &certificate_requested_);
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl_);
    if (rc == 1) return;
    const int e = SSL_get_error(ssl_, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(tcp_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT))
        throw ConnectionLost("TLS handshake: no answer within " + std::to_string(timeout_ms_) + " ms");
      continue;
    }
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK)  // a configuration problem, not an outage: never retried
      throw sdk::Error(sdk::ErrorKind::invalid_request,
                       "redis queue: the TLS certificate of Redis at " + address_ + " did not verify: " +
                           X509_verify_cert_error_string(verify) + " (checked against " + tls_.trust() + ")");
    const std::string sys = errno ? std::strerror(errno) : "the server closed the connection";
    throw ConnectionLost("TLS handshake: " + openssl_error(e == SSL_ERROR_SYSCALL ? sys : "failed"));
  }
}

void TlsBridge::fail(const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failure_.empty()) failure_ = why;
}

// The four directions of one pass. Each returns false when a side closed, sets `progress` when it
// moved bytes, and otherwise adds to `w` what it waits for.
bool TlsBridge::from_hiredis(Buffers& b, Waits& w) {
  if (!b.up.empty()) return true;  // the last chunk is not sent yet
  char buf[kChunk];
  const auto n = ::read(pump_end_, buf, sizeof buf);
  if (n > 0) {
    b.up.assign(buf, static_cast<std::size_t>(n));
    w.progress = true;
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    w.client |= POLLIN;
    return true;
  }
  return false;  // hiredis closed its end
}

bool TlsBridge::to_server(Buffers& b, Waits& w) {
  while (!b.up.empty()) {
    ERR_clear_error();
    const int n = SSL_write(ssl_, b.up.data(), static_cast<int>(b.up.size()));
    if (n <= 0) return waiting(n, w);
    b.up.erase(0, static_cast<std::size_t>(n));
    w.progress = true;
  }
  return true;
}

bool TlsBridge::from_server(Buffers& b, Waits& w) {
  char buf[kChunk];
  while (b.down.size() < kMaxPending) {  // past that, hiredis must catch up first
    ERR_clear_error();
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) return waiting(n, w);
    b.down.append(buf, static_cast<std::size_t>(n));
    w.progress = true;
  }
  return true;
}

bool TlsBridge::to_hiredis(Buffers& b, Waits& w) {
  while (!b.down.empty()) {
    const auto n = ::send(pump_end_, b.down.data(), b.down.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      w.client |= POLLOUT;
      return true;
    }
    if (n <= 0) return false;  // hiredis closed its end
    b.down.erase(0, static_cast<std::size_t>(n));
    w.progress = true;
  }
  return true;
}

// After an SSL call returned `rc` <= 0: true when it only has to wait (for what: in w.server), false
// (with the reason recorded for failure()) when the TLS side is over.
bool TlsBridge::waiting(int rc, Waits& w) {
  const std::string why = ssl_trouble(ssl_, rc, w.server);
  if (why.empty()) return true;
  fail(why);
  return false;
}

void TlsBridge::pump() {
  Buffers b;
  for (;;) {
    Waits w;
    w.progress = true;
    while (w.progress) {  // until a pass moves nothing: then `w` says what every side waits for
      w = Waits{};
      if (!from_hiredis(b, w) || !to_server(b, w) || !from_server(b, w) || !to_hiredis(b, w)) {
        ::shutdown(pump_end_, SHUT_RDWR);  // hiredis sees the connection closed
        return;
      }
    }
    // The TCP socket only when TLS waits on it; hiredis' end always, for its POLLHUP (closed).
    pollfd p[2] = {{w.server ? tcp_ : -1, w.server, 0}, {pump_end_, w.client, 0}};
    const bool broken = ::poll(p, 2, -1) < 0 && errno != EINTR;
    if (broken) fail(std::string("poll: ") + std::strerror(errno));
    if (broken || (p[1].revents & (POLLHUP | POLLERR))) {
      ::shutdown(pump_end_, SHUT_RDWR);
      return;
    }
  }
}

}  // namespace ftdr::plugins::redis
