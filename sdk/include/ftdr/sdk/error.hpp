// ftdr/sdk/error.hpp: the one exception type that crosses the plugin boundary, and its kinds.
//
// Every failure in FTDR is classified into exactly one ErrorKind. Plugins throw ftdr::sdk::Error;
// the host wraps every call into a plugin object it loaded (framework/plugin_guard.hpp), so
// anything else that escapes a plugin becomes plugin_error naming that plugin and the call
// ("plugin 'fifo' push() threw std::runtime_error: ..."; std::bad_alloc becomes out_of_memory).
// Recovery strategies decide on the kind.
//
//   if (width % 8 != 0)
//     throw ftdr::sdk::Error(ErrorKind::invalid_request, "width: expected a multiple of 8, got 500");
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace ftdr::sdk {

enum class ErrorKind {
  out_of_memory,    // device or host allocation failed (c10::OutOfMemoryError, CUDA "out of memory")
  device_error,     // other CUDA/driver errors; may leave the device context unusable
  numerical_error,  // NaN/Inf found in latents or outputs
  timeout,          // a step or a job ran past its watchdog
  cancelled,        // the user cancelled the job
  invalid_request,  // bad request, CLI flag or config value: never retried
  model_error,      // missing or malformed model files, shape mismatch: never retried
  plugin_error,     // a plugin failed to load or threw something that is not an Error
  internal,         // a bug in FTDR (an illegal state transition, a broken invariant)
};

inline constexpr std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::out_of_memory: return "out_of_memory";
    case ErrorKind::device_error: return "device_error";
    case ErrorKind::numerical_error: return "numerical_error";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::invalid_request: return "invalid_request";
    case ErrorKind::model_error: return "model_error";
    case ErrorKind::plugin_error: return "plugin_error";
    case ErrorKind::internal: return "internal";
  }
  return "internal";
}

// Parses the names printed by to_string(); returns false for anything else.
inline bool parse_error_kind(std::string_view text, ErrorKind& out) noexcept {
  for (int k = 0; k <= static_cast<int>(ErrorKind::internal); ++k) {
    if (to_string(static_cast<ErrorKind>(k)) == text) {
      out = static_cast<ErrorKind>(k);
      return true;
    }
  }
  return false;
}

// what() is the message alone; kind() says how to react to it.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace ftdr::sdk
