// Fuzz target: the TOML config loader and validator (framework/src/config/config.cpp, config_view.cpp).
// A refused config is a ConfigError/sdk::Error(invalid_request) whose every problem names the file;
// an accepted one keeps the documented ranges, and its [generate] defaults pass the request rules.
#include "ftdr/framework/config/config.hpp"
#include "ftdr/framework/jobs/request_validation.hpp"
#include "fuzz_target.hpp"

namespace {

using ftdr::framework::Config;
using ftdr::framework::ConfigError;
using ftdr::sdk::PluginKind;

const char* const kFile = "/fuzz/ftdr.toml";

void check_names_the_file(const std::string& problem) {
  FTDR_FUZZ_CHECK(problem.rfind(kFile, 0) == 0, problem);
}

void check_accepted(const Config& cfg) {
  const auto& h = cfg.host();
  FTDR_FUZZ_CHECK(h.runtime.workers >= 1 && h.runtime.workers <= 64, "workers");
  FTDR_FUZZ_CHECK(h.runtime.queue_capacity >= 1, "queue_capacity");
  FTDR_FUZZ_CHECK(h.memory.warning_pct <= h.memory.critical_pct, "warning_pct <= critical_pct");
  FTDR_FUZZ_CHECK(h.checkpoint.every_steps >= 0, "every_steps");
  ftdr::framework::validate_request(h.generate);  // throws: a default no request could have
  // What a plugin does with its table: read every key, then ask for the unknown ones.
  for (auto kind : {PluginKind::backend, PluginKind::memory_policy, PluginKind::scheduler,
                    PluginKind::recovery, PluginKind::tiling}) {
    auto table = cfg.plugin_table(kind);
    for (const auto& key : table->keys())
      if (table->is_table(key)) table->table(key)->keys();
    for (const auto& problem : table->unknown_keys()) check_names_the_file(problem);
  }
}

}  // namespace

FTDR_FUZZ_TARGET(config) {
  try {
    check_accepted(Config::parse(ftdr::fuzz::text(data, size), kFile));
  } catch (const ConfigError& e) {
    FTDR_FUZZ_CHECK(!e.problems().empty(), "a ConfigError lists its problems");
    for (const auto& problem : e.problems()) check_names_the_file(problem);
  } catch (const ftdr::sdk::Error& e) {
    FTDR_FUZZ_CHECK(e.kind() == ftdr::sdk::ErrorKind::invalid_request, e.what());
    check_names_the_file(e.what());
  }
}
