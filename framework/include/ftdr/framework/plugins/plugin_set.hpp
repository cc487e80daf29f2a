// ftdr/framework/plugins/plugin_set.hpp: every plugin a config names, created in one go.
//
// The host's start-up: one PluginLoader over the config's search path, then the backend, scheduler,
// memory policy, recovery strategy and tiling strategy, each with its own table (whose unknown keys
// are reported once the plugin has read it). All problems are collected, so `ftdr check-config`
// shows every one, not just the first.
//
// Each object is its plugin's guard (plugin_guard.hpp): plugin_info_of(*set.backend) says which
// plugin and ABI version made it, and the guards apply sdk/version.hpp to every read and call.
//
// The backend also gets values from the host, not from the file, as the `host` sub-table of its
// table (TomlConfigView::attach; already marked read, so a backend that ignores them is fine):
//   host.device_budget_mb   [memory] device_budget_mb, when > 0: a backend can enforce the budget
//                           (the libtorch backend caps the CUDA caching allocator there).
// That key, and the `faults` table (config.hpp), are documented for plugin authors in sdk/backend.hpp.
//
//   std::vector<std::string> problems;
//   PluginSet set = create_plugins(cfg, problems);
//   if (!problems.empty()) ...   // each names the plugin, its file and what is wrong
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ftdr/framework/config/config.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"

namespace ftdr::framework {

struct PluginSet {
  std::shared_ptr<sdk::ModelBackend> backend;  // created, not yet load()ed
  std::shared_ptr<sdk::JobScheduler> scheduler;
  std::shared_ptr<sdk::MemoryPolicy> memory_policy;
  std::shared_ptr<sdk::RecoveryStrategy> recovery;
  std::shared_ptr<sdk::TilingStrategy> tiling;

  bool complete() const { return backend && scheduler && memory_policy && recovery && tiling; }
};

// The loader for a config: its [plugins] search_path first, then the default folders
// (plugin_registry.hpp); plugin state goes to <state_dir>/plugins.
PluginLoader make_loader(const HostConfig& host);

// Creates each plugin; a plugin that fails is left null and its error appended to `problems`.
PluginSet create_plugins(const Config& cfg, const PluginLoader& loader, std::vector<std::string>& problems);

// Attaches the host's values ([memory] device_budget_mb; [model] vae, config, prediction_type) as
// the backend table's `host` sub-table (sdk/backend.hpp). create_plugins() does it; a command that
// creates the backend alone calls it first.
void attach_host_values(const Config& cfg);

// Problems with [model] path that need no backend: unset, neither a file nor a folder, a folder
// without model_index.json; [model] vae not a file, [model] config not a folder.
std::vector<std::string> model_path_problems(const HostConfig& host);

}  // namespace ftdr::framework
