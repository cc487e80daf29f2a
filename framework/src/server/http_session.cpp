// One client connection (see http_session.hpp).
#include "http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace ftdr::framework {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

constexpr std::uint32_t kHeaderLimit = 16 * 1024;

// Compares without stopping at the first difference, so the time taken says nothing about the token.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

}  // namespace

HttpSession::HttpSession(net::ip::tcp::socket socket, std::shared_ptr<const SessionSettings> settings)
    : stream_(std::move(socket)), settings_(std::move(settings)) {}

void HttpSession::run() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
}

void HttpSession::read() {
  parser_.emplace();
  parser_->body_limit(settings_->max_body_bytes);
  parser_->header_limit(kHeaderLimit);
  stream_.expires_after(settings_->request_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void HttpSession::on_read(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::operation_aborted) {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    return stream_.close();
  }
  if (ec == http::error::body_limit)
    return respond(
        HttpResponse::error(413, "payload_too_large",
                            "request body over the limit of " + std::to_string(settings_->max_body_bytes) +
                                " bytes ([server] max_body_bytes)"),
        false);
  if (ec == http::error::header_limit)
    return respond(HttpResponse::error(431, "invalid_request", "request headers over 16 KiB"), false);
  if (ec && (ec == http::error::partial_message ||
             ec.category() != http::make_error_code(http::error::bad_target).category()))
    return stream_.close();  // the client went away mid-request: nobody to answer
  if (ec)
    return respond(HttpResponse::error(400, "invalid_request", "malformed HTTP request: " + ec.message()),
                   false);
  const bool keep_alive = parser_->get().keep_alive();
  HttpResponse response = handle();
  if (response.deferred) return await(std::move(response.deferred), keep_alive);
  answer(std::move(response), keep_alive);
}

void HttpSession::answer(HttpResponse response, bool keep_alive) {
  if (response.stream) return start_stream(response);
  respond(std::move(response), keep_alive);
}

// No timer while the work runs (a job may take minutes); the answer is written on this
// connection's strand like every other step.
void HttpSession::await(std::shared_ptr<DeferredResponse> deferred, bool keep_alive) {
  stream_.expires_never();
  deferred->on_complete([self = shared_from_this(), keep_alive](HttpResponse response) {
    net::post(self->stream_.get_executor(), [self, keep_alive, response = std::move(response)]() mutable {
      self->answer(std::move(response), keep_alive);
    });
  });
}

bool HttpSession::authorized(const std::string& path) const {
  if (settings_->token.empty()) return true;
  for (const auto& open : settings_->open_paths)
    if (path == open) return true;
  const auto header = parser_->get()[http::field::authorization];
  const std::string expected = "Bearer " + settings_->token;
  return same_secret(std::string(header), expected);
}

HttpResponse HttpSession::handle() {
  auto& req = parser_->get();
  HttpRequest request;
  request.method = std::string(req.method_string());
  if (!split_target(std::string(req.target()), request.path, request.query))
    return HttpResponse::error(400, "invalid_request", "malformed percent-escape in the request target");
  if (!authorized(request.path)) {
    HttpResponse r =
        HttpResponse::error(401, "unauthorized", "this server needs \"Authorization: Bearer <token>\"");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  request.body = std::move(req.body());
  try {
    return settings_->handler(request);
  } catch (const std::exception& e) {
    return HttpResponse::error(500, "internal", e.what());
  }
}

void HttpSession::respond(HttpResponse response, bool keep_alive) {
  response_ =
      std::make_shared<http::response<http::string_body>>(static_cast<http::status>(response.status), 11);
  response_->set(http::field::server, "ftdr");
  response_->set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) response_->set(name, value);
  response_->body() = std::move(response.body);
  response_->keep_alive(keep_alive);
  response_->prepare_payload();
  stream_.expires_after(settings_->request_timeout);
  http::async_write(stream_, *response_,
                    [self = shared_from_this(), keep_alive](beast::error_code e, std::size_t) {
                      self->on_write(!keep_alive, e);
                    });
}

void HttpSession::on_write(bool close, beast::error_code ec) {
  response_.reset();
  if (ec) return stream_.close();
  if (close) return linger_close();
  read();
}

// Half-closes, then reads and drops what the client still sends (the rest of a refused body) for
// at most a second, so closing does not reset the connection before the client read the answer.
void HttpSession::linger_close() {
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::chrono::seconds(1));
  stream_.async_read_some(net::buffer(discard_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (ec) return self->stream_.close();
                            self->stream_.expires_after(std::chrono::seconds(1));
                            self->linger_close();
                          });
}

// The stream's body is delimited by closing the connection (no chunked encoding to parse).
void HttpSession::start_stream(const HttpResponse& response) {
  events_ = response.stream;
  out_ = "HTTP/1.1 " + std::to_string(response.status) + " " +
         std::string(http::obsolete_reason(static_cast<http::status>(response.status))) +
         "\r\nServer: ftdr\r\nContent-Type: " + response.content_type +
         "\r\nCache-Control: no-cache\r\nConnection: close\r\n";
  for (const auto& [name, value] : response.headers) out_ += name + ": " + value + "\r\n";
  out_ += "\r\n";
  write_pending();
}

void HttpSession::write_pending() {
  stream_.expires_after(settings_->request_timeout);
  net::async_write(stream_, net::buffer(out_),
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     if (ec) {
                       self->events_.reset();
                       return self->stream_.close();
                     }
                     self->out_.clear();
                     self->pump_stream();
                   });
}

void HttpSession::pump_stream() {
  const bool closed = events_->take(out_);
  if (!out_.empty()) return write_pending();
  if (closed) {
    events_.reset();
    return linger_close();
  }
  stream_.expires_never();
  events_->on_ready([self = shared_from_this()] {
    net::post(self->stream_.get_executor(), [self] { self->pump_stream(); });
  });
}

}  // namespace ftdr::framework
