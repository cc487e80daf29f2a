// spdlog setup and the sdk::Logger adapter handed to plugins (see logging.hpp).
#include "ftdr/framework/logging.hpp"

#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

spdlog::level::level_enum to_spdlog(sdk::LogLevel level) {
  switch (level) {
    case sdk::LogLevel::trace: return spdlog::level::trace;
    case sdk::LogLevel::debug: return spdlog::level::debug;
    case sdk::LogLevel::info: return spdlog::level::info;
    case sdk::LogLevel::warn: return spdlog::level::warn;
    case sdk::LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Holds its own spdlog logger so the plugin's name shows in every line; the level follows the
// host's default logger at every call, so `--log-level` changes apply to plugins made earlier too.
class PluginLogger final : public sdk::Logger {
 public:
  explicit PluginLogger(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}
  void log(sdk::LogLevel level, const std::string& message) override {
    logger_->set_level(host_logger()->level());
    logger_->log(to_spdlog(level), message);
  }
  bool enabled(sdk::LogLevel level) const override { return host_logger()->should_log(to_spdlog(level)); }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

spdlog::level::level_enum parse_log_level(const std::string& text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  if (text == "off") return spdlog::level::off;
  throw sdk::Error(sdk::ErrorKind::invalid_request,
                   "--log-level: expected one of trace, debug, info, warn, error, off (got '" + text + "')");
}

void setup_logging(spdlog::level::level_enum level) {
  auto mode = isatty(STDERR_FILENO) ? spdlog::color_mode::automatic : spdlog::color_mode::never;
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(mode);
  auto logger = std::make_shared<spdlog::logger>("ftdr", sink);
  logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] [%n] %v");
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

std::shared_ptr<spdlog::logger> host_logger() { return spdlog::default_logger(); }

std::shared_ptr<sdk::Logger> make_plugin_logger(const std::string& name) {
  auto host = host_logger();
  auto logger =
      std::make_shared<spdlog::logger>("plugin:" + name, host->sinks().begin(), host->sinks().end());
  logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] [%n] %v");
  logger->set_level(host->level());
  return std::make_shared<PluginLogger>(std::move(logger));
}

}  // namespace ftdr::framework
