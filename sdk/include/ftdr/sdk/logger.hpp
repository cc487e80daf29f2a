// ftdr/sdk/logger.hpp: the logging handle the host gives every plugin.
//
// Plugins do not depend on spdlog: the host owns the sinks and the level, and passes a Logger in
// PluginContext. Keep a copy of the shared_ptr; it is valid for the plugin's whole life and is
// safe to call from any thread.
//
//   ctx.logger->info("loaded " + std::to_string(n) + " tensors");
#pragma once
#include <string>

namespace ftdr::sdk {

enum class LogLevel { trace, debug, info, warn, error };

class Logger {
 public:
  virtual ~Logger() = default;
  // Required. Messages below the host's level may be dropped; enabled() lets a plugin skip work.
  virtual void log(LogLevel level, const std::string& message) = 0;
  virtual bool enabled(LogLevel level) const = 0;

  void trace(const std::string& m) { log(LogLevel::trace, m); }
  void debug(const std::string& m) { log(LogLevel::debug, m); }
  void info(const std::string& m) { log(LogLevel::info, m); }
  void warn(const std::string& m) { log(LogLevel::warn, m); }
  void error(const std::string& m) { log(LogLevel::error, m); }
};

}  // namespace ftdr::sdk
