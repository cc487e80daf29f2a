// tls_bridge.hpp: a TLS connection to Redis that hiredis 0.14 (which has no TLS) can use.
//
// The bridge opens the TCP connection, does the TLS handshake (TlsContext: server certificate and
// host name checked), and hands hiredis one end of a socket pair (redisConnectFd). A pump thread of
// its own copies bytes between the other end and the TLS session, both ways, until either side
// closes; then it closes its end, so hiredis sees a closed connection and the queue's reconnect
// logic takes over as it does for plain TCP. hiredis' timeouts (SO_RCVTIMEO on its end) still bound
// every reply; the pump itself never times out once the handshake is done.
//
// All TLS I/O, the handshake included, runs on the pump thread, which blocks SIGPIPE for its whole
// life: OpenSSL writes with write(2), and a plugin must not change the process' signal handling.
//
//   TlsBridge bridge(tls, "redis.example", 6380, "rediss://redis.example:6380/0", 2000);
//   redisContext* c = redisConnectFd(bridge.take_client_fd());
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "tls_context.hpp"

namespace ftdr::plugins::redis {

class TlsBridge {
 public:
  // Connects and handshakes within timeout_ms. Throws ConnectionLost for what a retry may cure
  // (refused, reset, no answer in time) and sdk::Error(invalid_request) naming `address` and
  // OpenSSL's reason when the server's certificate does not verify.
  TlsBridge(const TlsContext& tls, std::string host, int port, std::string address, std::int64_t timeout_ms);
  ~TlsBridge();  // closes the pump's end (ending the pump) and joins it
  TlsBridge(const TlsBridge&) = delete;
  TlsBridge& operator=(const TlsBridge&) = delete;

  // hiredis' end of the socket pair; the caller owns it from then on.
  int take_client_fd();
  // Why the TLS side ended ("tlsv13 alert certificate required"); "" while it runs or when hiredis
  // closed first.
  std::string failure() const;
  // The server asked for a client certificate and none was configured.
  bool certificate_requested() const { return certificate_requested_; }

 private:
  struct Buffers;
  struct Waits {
    short server = 0;  // poll events the TLS session waits for on the TCP socket
    short client = 0;  // poll events on hiredis' end
    bool progress = false;
  };
  void run();                           // the pump thread: handshake, then pump()
  void connect_tcp();                   // throws ConnectionLost
  void handshake();                     // throws ConnectionLost or sdk::Error
  bool wait_for(int fd, short events);  // within the handshake's deadline; false: timed out
  void pump();
  bool from_hiredis(Buffers& b, Waits& w);
  bool to_server(Buffers& b, Waits& w);
  bool from_server(Buffers& b, Waits& w);
  bool to_hiredis(Buffers& b, Waits& w);
  bool waiting(int rc, Waits& w);
  void fail(const std::string& why);
  void close_all();  // joins the pump, frees the session, closes the sockets

  const TlsContext& tls_;
  std::string host_, address_;
  int port_;
  std::int64_t timeout_ms_;
  std::int64_t deadline_ms_ = 0;  // steady clock, for the handshake

  int tcp_ = -1, pump_end_ = -1, client_end_ = -1;
  SSL* ssl_ = nullptr;
  bool certificate_requested_ = false;  // written during the handshake, read after it

  mutable std::mutex mutex_;  // guards failure_
  std::string failure_;
  std::thread thread_;
};

}  // namespace ftdr::plugins::redis
