// Creating every configured plugin (see plugin_set.hpp).
#include "ftdr/framework/plugins/plugin_set.hpp"

#include <functional>

namespace ftdr::framework {
namespace {

template <typename Interface>
void create_one(const Config& cfg, const PluginLoader& loader, std::shared_ptr<Interface>& out,
                std::vector<std::string>& problems) {
  const auto kind = interface_kind<Interface>::value;
  try {
    out = loader.create_as<Interface>(cfg.host().plugin_name(kind), cfg.plugin_table(kind));
  } catch (const sdk::Error& e) {
    problems.push_back(cfg.host().file.string() + ": [" + plugin_section(kind) + "] " + e.what());
  }
}

// The backend's `host` sub-table (plugin_set.hpp). Reading the key here marks it known, so a
// backend that never asks for it gets no unknown-key error.
void attach_host_values(const Config& cfg) {
  const auto backend = cfg.plugin_table(sdk::PluginKind::backend);
  const std::uint64_t budget_mb = cfg.host().memory.device_budget_mb;
  if (!backend || budget_mb == 0) return;
  auto doc = ConfigDocument::parse_string(
      std::string(sdk::kHostDeviceBudgetMb) + " = " + std::to_string(budget_mb) + "\n",
      cfg.host().file.string() + " ([memory] device_budget_mb, passed by the host)");
  auto host = doc->view("");
  host->get_int(sdk::kHostDeviceBudgetMb, 0);
  backend->attach(sdk::kHostTable, host);
}

}  // namespace

PluginLoader make_loader(const HostConfig& host) {
  return PluginLoader(PluginRegistry(PluginRegistry::default_search_path(host.plugin_search_path)),
                      (host.runtime.state_dir / "plugins").string());
}

PluginSet create_plugins(const Config& cfg, const PluginLoader& loader, std::vector<std::string>& problems) {
  PluginSet set;
  attach_host_values(cfg);
  create_one(cfg, loader, set.backend, problems);
  create_one(cfg, loader, set.scheduler, problems);
  create_one(cfg, loader, set.memory_policy, problems);
  create_one(cfg, loader, set.recovery, problems);
  create_one(cfg, loader, set.tiling, problems);
  return set;
}

std::vector<std::string> model_path_problems(const HostConfig& host) {
  const std::string where = host.file.string() + ": [model] path";
  if (host.model_path.empty())
    return {where + ": not set (expected a diffusers model folder; or pass --model)"};
  std::error_code ec;
  if (!std::filesystem::is_directory(host.model_path, ec))
    return {where + ": " + host.model_path.string() + " is not a folder (expected a diffusers model folder)"};
  if (!std::filesystem::is_regular_file(host.model_path / "model_index.json", ec))
    return {where + ": " + host.model_path.string() +
            " has no model_index.json (expected a diffusers model folder)"};
  return {};
}

}  // namespace ftdr::framework
