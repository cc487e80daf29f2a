// One client connection of HttpServer (see http_server.hpp): read a request under the limits,
// check the token, run the handler, write the response or stream events; repeat while keep-alive.
#pragma once
#include <array>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "ftdr/framework/server/http_server.hpp"

namespace ftdr::framework {

struct SessionSettings {
  std::uint64_t max_body_bytes = 0;
  std::chrono::seconds request_timeout{30};
  std::string token;
  std::vector<std::string> open_paths;
  HttpHandler handler;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket socket, std::shared_ptr<const SessionSettings> settings);
  void run();

 private:
  void read();
  void on_read(boost::beast::error_code ec);
  HttpResponse handle();
  void answer(HttpResponse response, bool keep_alive);
  void await(std::shared_ptr<DeferredResponse> deferred, bool keep_alive);
  bool authorized(const std::string& path) const;
  void respond(HttpResponse response, bool keep_alive);
  void on_write(bool close, boost::beast::error_code ec);
  void start_stream(const HttpResponse& response);
  void write_pending();
  void pump_stream();
  void linger_close();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<boost::beast::http::response<boost::beast::http::string_body>> response_;
  std::shared_ptr<EventStream> events_;
  std::string out_;
  std::array<char, 4096> discard_{};
  std::shared_ptr<const SessionSettings> settings_;
};

}  // namespace ftdr::framework
