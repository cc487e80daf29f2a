// The listener and threads of HttpServer (see http_server.hpp); connections are HttpSession's.
#include "ftdr/framework/server/http_server.hpp"

#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "ftdr/sdk/error.hpp"
#include "http_session.hpp"

namespace ftdr::framework {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
  net::io_context context;
  net::executor_work_guard<net::io_context::executor_type> work{context.get_executor()};
  tcp::acceptor acceptor{net::make_strand(context)};
  std::shared_ptr<SessionSettings> settings = std::make_shared<SessionSettings>();
  std::vector<std::thread> threads;
  int thread_count = 2;

  void accept() {
    acceptor.async_accept(net::make_strand(context),
                          [this](boost::system::error_code ec, tcp::socket socket) {
                            if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
                            if (!ec) std::make_shared<HttpSession>(std::move(socket), settings)->run();
                            accept();  // a failed accept (out of descriptors) must not end the listener
                          });
  }
};

HttpServer::HttpServer(HttpServerConfig config, HttpHandler handler) : impl_(std::make_unique<Impl>()) {
  impl_->settings->max_body_bytes = config.max_body_bytes;
  impl_->settings->request_timeout = config.request_timeout;
  impl_->settings->token = config.token;
  impl_->settings->open_paths = config.open_paths;
  impl_->settings->handler = std::move(handler);
  impl_->thread_count = std::max(1, config.threads);
  const std::string where = config.listen.host + ":" + std::to_string(config.listen.port);
  boost::system::error_code ec;
  const auto address = net::ip::make_address(config.listen.host, ec);
  tcp::endpoint endpoint(address, config.listen.port);
  if (!ec) impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw sdk::Error(sdk::ErrorKind::invalid_request, "cannot listen on " + where + ": " + ec.message());
}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::start() {
  net::post(impl_->acceptor.get_executor(), [this] { impl_->accept(); });
  for (int i = 0; i < impl_->thread_count; ++i) impl_->threads.emplace_back([this] { impl_->context.run(); });
}

void HttpServer::stop_accepting() {
  if (impl_->threads.empty()) return;
  std::promise<void> closed;
  net::post(impl_->acceptor.get_executor(), [this, &closed] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    closed.set_value();
  });
  closed.get_future().wait();
}

void HttpServer::stop() {
  impl_->work.reset();
  impl_->context.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace ftdr::framework
