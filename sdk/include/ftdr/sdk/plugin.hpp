// ftdr/sdk/plugin.hpp: what every plugin exports, and what the host hands it.
//
// A plugin is one shared library (ftdr_plugin_<name>.so) that exports exactly two symbols: a
// describe function (no side effects, called first, to list and ABI-check) and a create function
// (called once per use, with the plugin's config table and a logger). One line declares both:
//
//   #include <ftdr/sdk/scheduler.hpp>
//   namespace {
//   class Lifo final : public ftdr::sdk::JobScheduler { ... };
//   std::unique_ptr<ftdr::sdk::JobScheduler> make(const ftdr::sdk::PluginContext& ctx) {
//     return std::make_unique<Lifo>(ctx.config->get_int("max_waiting", 0));
//   }
//   }  // namespace
//   FTDR_DECLARE_PLUGIN(scheduler, "lifo", "1.0.0", "last in, first out", make)
//
// The descriptor it makes says the plugin was built for this header's FTDR_SDK_ABI_MAJOR/MINOR
// (version.hpp says what the host does with them), and the factory must return the interface of
// the kind (checked at compile time). Building against a newer SDK raises the plugin's minor, so it
// then loads only in hosts of that minor or newer.
//
// Ownership: the host keeps the library loaded for as long as any object create() returned lives.
// Threads: describe() and create() run on the host's main thread; each interface says how its calls
// are made. Exceptions: throw ftdr::sdk::Error; the host wraps every call into a plugin, and anything
// else that escapes becomes Error(plugin_error) naming the plugin and the call (std::bad_alloc:
// out_of_memory). Objects a plugin returns (Artifacts) must not throw from their getters.
//
// Toolchain: the boundary passes C++ objects (std::string, std::vector, std::shared_ptr, exceptions,
// vtables), so a plugin must be built the way the host is:
//   - the same C++ ABI and standard library: GCC >= 12 (or a Clang using libstdc++) with libstdc++'s
//     new ABI (_GLIBCXX_USE_CXX11_ABI=1, the default), never libc++; C++17 or newer;
//   - exceptions and RTTI on (no -fno-exceptions, no -fno-rtti): the host catches sdk::Error thrown
//     by the plugin and dynamic_casts the created object to its interface;
//   - -fvisibility=hidden (ftdr_sdk_add_plugin sets it) so only the two exports are visible, and a
//     shared libstdc++ (no -static-libstdc++: two copies would not share exception type info);
//   - no globals the host must see: the host's logger and config come in PluginContext.
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

// queue: ABI 1.3 (version.hpp rule 5).
enum class PluginKind { backend, memory_policy, scheduler, recovery, tiling, queue };

inline constexpr std::string_view to_string(PluginKind k) noexcept {
  switch (k) {
    case PluginKind::backend: return "backend";
    case PluginKind::memory_policy: return "memory_policy";
    case PluginKind::scheduler: return "scheduler";
    case PluginKind::recovery: return "recovery";
    case PluginKind::tiling: return "tiling";
    case PluginKind::queue: return "queue";
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

// Handed to create(). Everything in it outlives the plugin object. Only the host creates it, so it
// may grow at the end (version.hpp rule 4). A backend's config also carries values from the host
// beside its own keys (backend.hpp: `host.device_budget_mb` and the `faults` table).
struct PluginContext {
  std::shared_ptr<const ConfigView> config;  // this plugin's table, e.g. [scheduler.priority]
  std::shared_ptr<Logger> logger;            // the host's logger, named after the plugin
  std::string state_dir;                     // a folder the plugin may write (calibration, caches)
  // 1.4 (rule 4): `ftdr check-config` only checks the config. A plugin that honours it reads every key
  // of `config` (rejecting bad values as usual) and returns nullptr without opening, connecting or
  // writing anything. The host sets it only on plugins built for >= 1.4 (today: queue plugins, whose
  // create() would open their store); a plugin may also ignore it and make its object as usual.
  bool check_only = false;
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

// The interface each kind's object implements; each interface header specialises it
// (backend.hpp: plugin_interface<PluginKind::backend>::type is ModelBackend).
template <PluginKind K>
struct plugin_interface;

}  // namespace ftdr::sdk

// FTDR_DECLARE_PLUGIN(kind, name, version, summary, factory): the whole plugin declaration. Use
// once per library at global scope, after the interface's header. `kind` is a PluginKind
// enumerator (scheduler, backend, ...); name/version/summary are string literals (see
// PluginDescriptor); `factory` is callable as factory(const PluginContext&) and returns a
// std::unique_ptr to the kind's interface (or a class derived from it).
#define FTDR_DECLARE_PLUGIN(kind, name, version, summary, factory)                                      \
  namespace {                                                                                           \
  const ::ftdr::sdk::PluginDescriptor& ftdr_declared_describe() {                                       \
    static const ::ftdr::sdk::PluginDescriptor descriptor{                                              \
        FTDR_SDK_ABI_MAJOR, FTDR_SDK_ABI_MINOR, ::ftdr::sdk::PluginKind::kind, name, version, summary}; \
    return descriptor;                                                                                  \
  }                                                                                                     \
  std::unique_ptr<::ftdr::sdk::Plugin> ftdr_declared_create(const ::ftdr::sdk::PluginContext& ctx) {    \
    using Interface = ::ftdr::sdk::plugin_interface<::ftdr::sdk::PluginKind::kind>::type;               \
    std::unique_ptr<Interface> made = factory(ctx);                                                     \
    return made;                                                                                        \
  }                                                                                                     \
  }                                                                                                     \
  FTDR_PLUGIN_EXPORT(ftdr_declared_describe, ftdr_declared_create)

// The two exports alone, for a plugin that writes its own describe/create (the loader's test
// fixtures do, to build deliberately wrong plugins). FTDR_DECLARE_PLUGIN is the normal way.
#define FTDR_PLUGIN_EXPORT(describe_fn, create_fn)   \
  BOOST_DLL_ALIAS(describe_fn, ftdr_plugin_describe) \
  BOOST_DLL_ALIAS(create_fn, ftdr_plugin_create)
