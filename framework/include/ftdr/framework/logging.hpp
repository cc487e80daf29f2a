// ftdr/framework/logging.hpp: the host's logging (spdlog) and the Logger handle each plugin gets.
//
// The host owns every sink and the level. setup_logging() makes the default logger "ftdr" writing
// to stderr; make_plugin_logger() gives a plugin an sdk::Logger that writes through the same sinks
// under the plugin's name ("[plugin:priority]"), because spdlog's registry is per shared library
// and a plugin calling spdlog::get() would get nothing.
//
//   setup_logging(parse_log_level("info"));
//   ctx.logger = make_plugin_logger("priority");
#pragma once
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "ftdr/sdk/logger.hpp"

namespace ftdr::framework {

// "trace", "debug", "info", "warn", "error", "off"; throws sdk::Error(invalid_request) otherwise.
spdlog::level::level_enum parse_log_level(const std::string& text);

// Replaces the default logger with one named "ftdr" on stderr (colours when stderr is a TTY).
void setup_logging(spdlog::level::level_enum level);

// The host's logger (the default logger).
std::shared_ptr<spdlog::logger> host_logger();

// A Logger for the plugin `name`, sharing the host's sinks and level. Thread-safe.
std::shared_ptr<sdk::Logger> make_plugin_logger(const std::string& name);

}  // namespace ftdr::framework
