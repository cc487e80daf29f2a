// ftdr/sdk/plugin.hpp: what every plugin exports, and what the host hands it.
//
// A plugin is one shared library (ftdr_plugin_<name>.so) that exports exactly two symbols through
// FTDR_PLUGIN_EXPORT: a describe function (no side effects, called first, to list and ABI-check)
// and a create function (called once per use, with the plugin's config table and a logger).
//
//   #include <ftdr/sdk/scheduler.hpp>
//   namespace {
//   class Lifo final : public ftdr::sdk::JobScheduler { ... };
//   const ftdr::sdk::PluginDescriptor& describe() {
//     static const ftdr::sdk::PluginDescriptor d{FTDR_SDK_ABI_MAJOR, FTDR_SDK_ABI_MINOR,
//         ftdr::sdk::PluginKind::scheduler, "lifo", "1.0.0", "last in, first out"};
//     return d;
//   }
//   std::unique_ptr<ftdr::sdk::Plugin> create(const ftdr::sdk::PluginContext& ctx) {
//     return std::make_unique<Lifo>(ctx);
//   }
//   }  // namespace
//   FTDR_PLUGIN_EXPORT(describe, create)
//
// Ownership: the host keeps the library loaded for as long as any object create() returned lives.
// Threads: describe() and create() run on the host's main thread; each interface says how its calls
// are made. Exceptions: throw ftdr::sdk::Error; anything else is reported as plugin_error.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include <boost/dll/alias.hpp>

#include "ftdr/sdk/config_view.hpp"
#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/version.hpp"

// Interfaces keep default visibility so the host can dynamic_cast objects made by plugins built
// with -fvisibility=hidden.
#define FTDR_SDK_INTERFACE __attribute__((visibility("default")))

namespace ftdr::sdk {

enum class PluginKind { backend, memory_policy, scheduler, recovery, tiling };

inline constexpr std::string_view to_string(PluginKind k) noexcept {
  switch (k) {
    case PluginKind::backend: return "backend";
    case PluginKind::memory_policy: return "memory_policy";
    case PluginKind::scheduler: return "scheduler";
    case PluginKind::recovery: return "recovery";
    case PluginKind::tiling: return "tiling";
  }
  return "unknown";
}

// Layout is frozen for ABI major 1: the two version numbers come first so that any host can read
// them from any plugin before trusting the rest.
struct PluginDescriptor {
  unsigned abi_major;
  unsigned abi_minor;
  PluginKind kind;
  const char* name;     // what configs use: [scheduler] plugin = "<name>"
  const char* version;  // the plugin's own version, free-form ("1.2.0")
  const char* summary;  // one line for `ftdr plugins`
};

// Handed to create(). Everything in it outlives the plugin object.
struct PluginContext {
  std::shared_ptr<const ConfigView> config;  // this plugin's table, e.g. [scheduler.priority]
  std::shared_ptr<Logger> logger;            // the host's logger, named after the plugin
  std::string state_dir;                     // a folder the plugin may write (calibration, caches)
};

// Base of every plugin interface. The host casts to the interface named by the descriptor's kind.
class FTDR_SDK_INTERFACE Plugin {
 public:
  virtual ~Plugin() = default;
};

using PluginDescribeFn = const PluginDescriptor&();
using PluginCreateFn = std::unique_ptr<Plugin>(const PluginContext&);

inline constexpr const char* kDescribeSymbol = "ftdr_plugin_describe";
inline constexpr const char* kCreateSymbol = "ftdr_plugin_create";

}  // namespace ftdr::sdk

// Exports a plugin's two entry points under the names the host looks for. Use once per library,
// at namespace scope, in plugins/<name>/plugin.cpp.
#define FTDR_PLUGIN_EXPORT(describe_fn, create_fn)      \
  BOOST_DLL_ALIAS(describe_fn, ftdr_plugin_describe)    \
  BOOST_DLL_ALIAS(create_fn, ftdr_plugin_create)
