// ftdr/sdk/config_view.hpp: a read-only view of the plugin's own TOML table.
//
// The host parses the config (toml++ stays in the host) and hands each plugin the table of its
// section, e.g. [scheduler.priority] for the priority scheduler. Getters return the default when the
// key is absent and throw Error(invalid_request) naming file, line, key and the expected type when
// the value has the wrong type. The host records which keys a plugin read: a key the plugin never
// asked for is reported as unknown after the plugin is created, so typos do not pass silently.
//
//   int64_t aging = cfg.get_int("aging_ms", 0);
//   if (aging < 0) cfg.reject("aging_ms", "a duration in milliseconds >= 0");
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ftdr::sdk {

class ConfigView {
 public:
  virtual ~ConfigView() = default;

  virtual bool has(const std::string& key) const = 0;
  virtual std::string get_string(const std::string& key, const std::string& fallback) const = 0;
  virtual std::int64_t get_int(const std::string& key, std::int64_t fallback) const = 0;
  // Integers are accepted where a float is asked for.
  virtual double get_double(const std::string& key, double fallback) const = 0;
  virtual bool get_bool(const std::string& key, bool fallback) const = 0;
  virtual std::vector<std::string> get_string_list(const std::string& key) const = 0;
  // A nested table; an empty view when absent.
  virtual std::shared_ptr<const ConfigView> table(const std::string& key) const = 0;
  virtual std::vector<std::string> keys() const = 0;

  // "file:line:col: key 'name': expected <expected>" (or the section's path when the key is absent).
  virtual std::string where(const std::string& key) const = 0;
  // Throws Error(invalid_request) naming where(key) and what was expected. Never returns.
  [[noreturn]] virtual void reject(const std::string& key, const std::string& expected) const = 0;
};

}  // namespace ftdr::sdk
