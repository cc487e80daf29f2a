// ftdr/framework/plugins/plugin_guard.hpp: the host side of the plugin boundary, one guard per loaded object.
//
// PluginLoader::create_as hands out every plugin object wrapped in a guard that implements the same
// interface and forwards each call, so the rest of the host needs no boundary code:
//   - every call goes through plugin_call(): an exception that is not sdk::Error becomes
//     Error(plugin_error) naming the plugin and the call, and the host keeps running;
//   - the guard keeps the plugin's PluginInfo (name, file, ABI major.minor) and applies
//     sdk/version.hpp: a field or an optional call added in minor N is read or called only when the
//     plugin was built for minor >= N (ModelInfo::dtype from 1.1, samplers() from 1.2); older
//     plugins get the documented default.
// The guard holds the plugin object, whose deleter holds the library (plugin_loader.cpp), so the
// library stays loaded as long as the guard lives. Objects the host makes itself (tests) are used
// as they are.
//
//   std::shared_ptr<sdk::ModelBackend> backend = guard(raw, info);
//   plugin_info_of(*backend)->abi_minor;   // 0 for a plugin built for ABI 1.0
#pragma once
#include <memory>
#include <string>
#include <utility>

#include "ftdr/framework/plugins/plugin_call.hpp"
#include "ftdr/framework/plugins/plugin_library.hpp"
#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/memory_policy.hpp"
#include "ftdr/sdk/queue.hpp"
#include "ftdr/sdk/recovery.hpp"
#include "ftdr/sdk/scheduler.hpp"
#include "ftdr/sdk/tiling.hpp"

namespace ftdr::framework {

// What every guard knows about its plugin.
class PluginGuard {
 public:
  explicit PluginGuard(PluginInfo info) : info_(std::move(info)) {}
  virtual ~PluginGuard() = default;
  const PluginInfo& plugin_info() const { return info_; }
  // True when the plugin was built for an ABI minor that has what appeared in `minor`.
  bool has_abi_minor(unsigned minor) const { return info_.abi_minor >= minor; }

 protected:
  template <typename Fn>
  decltype(auto) guarded(const char* call, Fn&& fn) const {
    return plugin_call(info_.name, call, std::forward<Fn>(fn));
  }

 private:
  PluginInfo info_;
};

// The guard of each interface (plugin_guard.cpp).
std::shared_ptr<sdk::ModelBackend> guard(std::shared_ptr<sdk::ModelBackend> object, const PluginInfo& info);
std::shared_ptr<sdk::MemoryPolicy> guard(std::shared_ptr<sdk::MemoryPolicy> object, const PluginInfo& info);
std::shared_ptr<sdk::JobScheduler> guard(std::shared_ptr<sdk::JobScheduler> object, const PluginInfo& info);
std::shared_ptr<sdk::RecoveryStrategy> guard(std::shared_ptr<sdk::RecoveryStrategy> object,
                                             const PluginInfo& info);
std::shared_ptr<sdk::JobQueue> guard(std::shared_ptr<sdk::JobQueue> object,
                                     const PluginInfo& info);  // guarded_queue.cpp
std::shared_ptr<sdk::TilingStrategy> guard(std::shared_ptr<sdk::TilingStrategy> object,
                                           const PluginInfo& info);

// The plugin behind a guarded object; null for an object the host made itself.
const PluginInfo* plugin_info_of(const sdk::Plugin& object);

}  // namespace ftdr::framework
