// ftdr/framework/server/http_server.hpp: a small HTTP/1.1 server (Boost.Beast over Asio) that hands
// each request to one handler function, with the limits every service needs enforced before the
// handler sees anything.
//
//   HttpServerConfig config;
//   config.listen = parse_listen_address("127.0.0.1:0");
//   config.token = "s3cret";                      // then every path but open_paths needs
//                                                 // "Authorization: Bearer s3cret" (else 401)
//   HttpServer server(config, [](const HttpRequest& r) { return HttpResponse::json(200, {}); });
//   std::cout << server.port();                    // the bound port (the system's choice for 0)
//   server.start();                                // serves on config.threads threads
//   ...
//   server.stop_accepting();                       // no new connections
//   server.stop();                                 // closes everything, joins the threads
//
// Limits: a body over max_body_bytes gets 413; headers over 16 KiB get 431; a request not fully
// received within request_timeout (slow or half-sent) closes the connection without a handler ever
// running, so a slow client holds a socket, never a thread; a malformed request gets 400. After an
// error response the server stops sending, reads what the client still sends (at most a second)
// and closes, so the client reads the response instead of a reset connection.
// Handlers run on the server's threads and may block briefly (a database commit); work that waits
// longer (a job) answers through HttpResponse::later(), holding no thread. An exception escaping a
// handler becomes a 500 with its message.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ftdr/framework/server/http_message.hpp"
#include "ftdr/framework/server/listen_address.hpp"

namespace ftdr::framework {

struct HttpServerConfig {
  ListenAddress listen{"127.0.0.1", 0};
  std::uint64_t max_body_bytes = 1 << 20;
  std::chrono::seconds request_timeout{30};
  std::string token;                                // "" = no token needed
  std::vector<std::string> open_paths{"/healthz"};  // answered without the token
  int threads = 2;
};

class HttpServer {
 public:
  // Binds and listens. Throws sdk::Error(invalid_request) naming the address when it cannot.
  HttpServer(HttpServerConfig config, HttpHandler handler);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;
  void start();
  void stop_accepting();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ftdr::framework
