// HttpServer's deferred answers (HttpResponse::later): a handler that waits for other work holds no
// server thread, and an answer that never comes is a 500, not a client waiting forever.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>

#include "ftdr/framework/server/http_server.hpp"
#include "integration/http_client.hpp"

namespace fw = ftdr::framework;
using ftdr::test::Connection;
using ftdr::test::http;
using ftdr::test::parse_reply;

namespace {

fw::HttpServerConfig one_thread() {
  fw::HttpServerConfig config;
  config.threads = 1;
  return config;
}

}  // namespace

// With one server thread, /fast is answered while /slow waits: the waiting request holds no thread.
TEST(HttpServerDeferred, AWaitingAnswerHoldsNoServerThread) {
  std::mutex mutex;
  std::shared_ptr<fw::DeferredResponse> pending;
  std::promise<void> slow_arrived;
  fw::HttpServer server(one_thread(), [&](const fw::HttpRequest& r) {
    if (r.path != "/slow") return fw::HttpResponse::json(200, {{"path", r.path}});
    std::lock_guard<std::mutex> lock(mutex);
    pending = std::make_shared<fw::DeferredResponse>();
    slow_arrived.set_value();
    return fw::HttpResponse::later(pending);
  });
  server.start();
  const int port = server.port();

  Connection slow(port);
  slow.send("GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  slow_arrived.get_future().wait();
  EXPECT_EQ(http(port, "GET", "/fast").body, R"({"path":"/fast"})");

  std::thread([&] {
    std::lock_guard<std::mutex> lock(mutex);
    pending->complete(fw::HttpResponse::json(201, {{"done", true}}));
  }).join();
  const auto reply = parse_reply(slow.read_all());
  EXPECT_EQ(reply.status, 201);
  EXPECT_EQ(reply.body, R"({"done":true})");
  server.stop();
}

// Completed before the session waits for it (the work was quick): answered all the same.
TEST(HttpServerDeferred, AnAnswerCompletedAtOnceIsSent) {
  fw::HttpServer server(one_thread(), [](const fw::HttpRequest&) {
    auto answer = std::make_shared<fw::DeferredResponse>();
    answer->complete(fw::HttpResponse::json(202, {{"id", 7}}));
    answer->complete(fw::HttpResponse::json(500, {{"second", "ignored"}}));  // the first counts
    return fw::HttpResponse::later(answer);
  });
  server.start();
  const auto reply = http(server.port(), "POST", "/v1/jobs", "{}");
  EXPECT_EQ(reply.status, 202);
  EXPECT_EQ(reply.body, R"({"id":7})");
  server.stop();
}

// Whoever held the answer dropped it without completing it (a bug): the client hears a 500 saying so.
TEST(HttpServerDeferred, ADroppedAnswerIsA500) {
  std::mutex mutex;
  std::shared_ptr<fw::DeferredResponse> pending;
  std::promise<void> arrived;
  fw::HttpServer server(one_thread(), [&](const fw::HttpRequest&) {
    std::lock_guard<std::mutex> lock(mutex);
    pending = std::make_shared<fw::DeferredResponse>();
    arrived.set_value();
    return fw::HttpResponse::later(pending);
  });
  server.start();
  Connection c(server.port());
  c.send("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  arrived.get_future().wait();
  {
    // Before or after the session waits on it: the last owner gone, the 500 goes out either way.
    std::lock_guard<std::mutex> lock(mutex);
    pending.reset();
  }
  const auto reply = parse_reply(c.read_all());
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(reply.body,
            R"({"error":{"kind":"internal","message":"the server dropped this request without an answer"}})");
  server.stop();
}
