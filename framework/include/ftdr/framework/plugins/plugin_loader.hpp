// ftdr/framework/plugins/plugin_loader.hpp: creating plugin objects by name (Boost.DLL).
//
// create() finds ftdr_plugin_<name>.so in the registry's search path, checks the ABI, the kind and
// the name, calls the plugin's create() with its config table and a logger, and then reports every
// key of the table the plugin did not read. The object comes back as a shared_ptr whose deleter
// holds the library, so the library stays loaded for as long as the object lives; create_as wraps
// it in its interface's guard (plugin_guard.hpp), which keeps the plugin's name and ABI version and
// routes every call through plugin_call.
//
//   PluginLoader loader(PluginRegistry(PluginRegistry::default_search_path(cfg.host().plugin_search_path)),
//                       cfg.host().runtime.state_dir);
//   auto sched = loader.create_as<sdk::JobScheduler>("priority", cfg.plugin_table(PluginKind::scheduler));
//
// Every failure throws sdk::Error(plugin_error) whose message names the plugin and its file: no such
// plugin (with the folders searched and the plugins found), wrong kind, ABI mismatch, missing export,
// a create() that throws, a config the plugin rejects (its message kept), unknown keys.
#pragma once
#include <memory>
#include <string>

#include "ftdr/framework/config/config_view.hpp"
#include "ftdr/framework/plugins/plugin_guard.hpp"
#include "ftdr/framework/plugins/plugin_registry.hpp"
#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/memory_policy.hpp"
#include "ftdr/sdk/queue.hpp"
#include "ftdr/sdk/recovery.hpp"
#include "ftdr/sdk/scheduler.hpp"
#include "ftdr/sdk/tiling.hpp"

namespace ftdr::framework {

// The kind each interface is created as.
template <typename Interface>
struct interface_kind;
template <>
struct interface_kind<sdk::ModelBackend> {
  static constexpr auto value = sdk::PluginKind::backend;
};
template <>
struct interface_kind<sdk::MemoryPolicy> {
  static constexpr auto value = sdk::PluginKind::memory_policy;
};
template <>
struct interface_kind<sdk::JobScheduler> {
  static constexpr auto value = sdk::PluginKind::scheduler;
};
template <>
struct interface_kind<sdk::RecoveryStrategy> {
  static constexpr auto value = sdk::PluginKind::recovery;
};
template <>
struct interface_kind<sdk::TilingStrategy> {
  static constexpr auto value = sdk::PluginKind::tiling;
};
template <>
struct interface_kind<sdk::JobQueue> {
  static constexpr auto value = sdk::PluginKind::queue;
};

// A created plugin object and what made it.
struct PluginObject {
  std::shared_ptr<sdk::Plugin> object;  // the deleter keeps the library loaded
  PluginInfo info;
  bool checked = true;  // false: a check_only create() did not call the plugin (ABI < 1.4)
};

class PluginLoader {
 public:
  explicit PluginLoader(PluginRegistry registry, std::string state_dir = {});

  // Creates plugin `name`, which must be of `kind`. `config` may be null (an empty table).
  // check_only (`ftdr check-config`): the plugin reads its table and makes nothing
  // (PluginContext::check_only); the object may then be null. A plugin built before ABI 1.4 would
  // not know it was only checked: it is not called at all (info.checked = false).
  PluginObject create(sdk::PluginKind kind, const std::string& name,
                      const std::shared_ptr<TomlConfigView>& config, bool check_only = false) const;

  template <typename Interface>
  std::shared_ptr<Interface> create_as(const std::string& name,
                                       const std::shared_ptr<TomlConfigView>& config) const {
    PluginObject made = create(interface_kind<Interface>::value, name, config);
    auto typed = std::dynamic_pointer_cast<Interface>(made.object);  // shares the deleter
    if (!typed) throw_not_interface(made.info);
    return guard(std::move(typed), made.info);
  }

  const PluginRegistry& registry() const { return registry_; }

 private:
  [[noreturn]] static void throw_not_interface(const PluginInfo& info);
  PluginRegistry registry_;
  std::string state_dir_;
};

}  // namespace ftdr::framework
