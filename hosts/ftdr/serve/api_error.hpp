// hosts/ftdr/serve/api_error.hpp: a refusal the API turns into an HTTP error response:
// {"error": {"kind": ..., "message": ..., "field": ...}} with `status` and any extra headers.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ftdr/framework/server/http_message.hpp"

namespace ftdr::host::serve {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string kind, const std::string& message, std::string field = "")
      : std::runtime_error(message), status_(status), kind_(std::move(kind)), field_(std::move(field)) {}
  ApiError& header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  framework::HttpResponse response() const {
    auto r = framework::HttpResponse::error(status_, kind_, what(), field_);
    r.headers = headers_;
    return r;
  }

 private:
  int status_;
  std::string kind_, field_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace ftdr::host::serve
