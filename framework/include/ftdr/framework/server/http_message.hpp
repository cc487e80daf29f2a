// ftdr/framework/server/http_message.hpp: what an HttpServer hands a handler and what it sends back.
//
// A handler is a plain function of a parsed, size-checked, authorized request:
//
//   HttpResponse handle(const HttpRequest& req) {
//     if (req.method == "GET" && req.path == "/hello") return HttpResponse::json(200, {{"hi", 1}});
//     return HttpResponse::error(404, "not_found", "no route " + req.path);
//   }
//
// A response with a `stream` is sent as its headers, then every chunk pushed to the stream as it
// arrives, until the stream is closed (Server-Sent Events: content type text/event-stream).
//
// A handler whose answer waits for other work (a journal commit, a job) returns
// HttpResponse::later(d) and whoever finishes that work calls d->complete(response), on any thread.
// The connection then holds no server thread while it waits.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ftdr::framework {

struct HttpRequest {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // percent-decoded, without the query: "/v1/jobs/3"
  std::map<std::string, std::string> query;  // percent-decoded; a repeated key keeps its last value
  std::string body;
};

// Chunks written to one client as they come (an SSE connection). push()/close() from any thread;
// the server's session takes what is pending when it can write.
class EventStream {
 public:
  void push(std::string chunk);
  void close();
  // Moves what is pending to `out`; true when the stream is closed and nothing more will come.
  bool take(std::string& out);
  // Called once (on any thread) when something is pushed or the stream closes; replaced on each
  // call. The session uses it to wake its writer.
  void on_ready(std::function<void()> waker);

 private:
  std::mutex mutex_;
  std::string pending_;
  bool closed_ = false;
  std::function<void()> waker_;
};

class DeferredResponse;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones ("Retry-After", "3")
  std::shared_ptr<EventStream> stream;                       // set: an event stream, see above
  std::shared_ptr<DeferredResponse> deferred;                // set: the answer comes later, see above

  static HttpResponse json(int status, const nlohmann::json& body);
  static HttpResponse text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
  // {"error": {"kind": kind, "message": message, "field": field}} ("field" only when not empty).
  static HttpResponse error(int status, const std::string& kind, const std::string& message,
                            const std::string& field = "");
  static HttpResponse later(std::shared_ptr<DeferredResponse> deferred);
};

// The answer of a handler that returned HttpResponse::later(). complete() from any thread; the
// first call counts. Dropped without complete() (a bug), it answers 500 rather than leave the
// client waiting forever.
class DeferredResponse {
 public:
  ~DeferredResponse();
  void complete(HttpResponse response);
  // Called once (on any thread) with the response: at complete(), or at once when it already ran.
  // The session uses it to write the answer.
  void on_complete(std::function<void(HttpResponse)> then);

 private:
  std::mutex mutex_;
  bool done_ = false;
  HttpResponse response_;
  std::function<void(HttpResponse)> then_;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// "%2Fa+b" -> "/a b" (plus as space only in queries); false for a malformed escape.
bool percent_decode(const std::string& in, std::string& out, bool plus_is_space);
// Splits a request target into a decoded path and query; false when it cannot be decoded.
bool split_target(const std::string& target, std::string& path, std::map<std::string, std::string>& query);

}  // namespace ftdr::framework
