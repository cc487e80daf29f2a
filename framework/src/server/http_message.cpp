// Requests, responses and event streams of the HTTP layer (see http_message.hpp).
#include "ftdr/framework/server/http_message.hpp"

#include <algorithm>

namespace ftdr::framework {

void EventStream::push(std::string chunk) {
  std::function<void()> waker;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    pending_ += chunk;
    waker = std::move(waker_);
    waker_ = nullptr;
  }
  if (waker) waker();
}

void EventStream::close() {
  std::function<void()> waker;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    waker = std::move(waker_);
    waker_ = nullptr;
  }
  if (waker) waker();
}

bool EventStream::take(std::string& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  out += pending_;
  pending_.clear();
  return closed_;
}

void EventStream::on_ready(std::function<void()> waker) {
  bool now = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    now = closed_ || !pending_.empty();
    if (!now) waker_ = std::move(waker);
  }
  if (now) waker();  // something came between take() and on_ready(): wake at once
}

HttpResponse HttpResponse::json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  // Replace invalid UTF-8 rather than throw: a message may quote a client's bad bytes.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse HttpResponse::text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

HttpResponse HttpResponse::error(int status, const std::string& kind, const std::string& message,
                                 const std::string& field) {
  nlohmann::json e{{"kind", kind}, {"message", message}};
  if (!field.empty()) e["field"] = field;
  return json(status, {{"error", e}});
}

HttpResponse HttpResponse::later(std::shared_ptr<DeferredResponse> deferred) {
  HttpResponse r;
  r.deferred = std::move(deferred);
  return r;
}

DeferredResponse::~DeferredResponse() {
  if (!done_ && then_)
    then_(HttpResponse::error(500, "internal", "the server dropped this request without an answer"));
}

void DeferredResponse::complete(HttpResponse response) {
  std::function<void(HttpResponse)> then;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return;
    done_ = true;
    if (!then_) {
      response_ = std::move(response);
      return;
    }
    then = std::move(then_);
  }
  then(std::move(response));
}

void DeferredResponse::on_complete(std::function<void(HttpResponse)> then) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!done_) {
      then_ = std::move(then);
      return;
    }
  }
  then(std::move(response_));
}

bool percent_decode(const std::string& in, std::string& out, bool plus_is_space) {
  out.clear();
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex(in[i + 1]);
      const int lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (in[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return true;
}

bool split_target(const std::string& target, std::string& path, std::map<std::string, std::string>& query) {
  const auto q = target.find('?');
  if (!percent_decode(target.substr(0, q), path, false)) return false;
  if (q == std::string::npos) return true;
  const std::string rest = target.substr(q + 1);
  std::size_t start = 0;
  while (start <= rest.size()) {
    const auto amp = std::min(rest.find('&', start), rest.size());
    const std::string pair = rest.substr(start, amp - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      std::string key, value;
      if (!percent_decode(pair.substr(0, eq), key, true)) return false;
      if (eq != std::string::npos && !percent_decode(pair.substr(eq + 1), value, true)) return false;
      query[key] = value;
    }
    start = amp + 1;
  }
  return true;
}

}  // namespace ftdr::framework
