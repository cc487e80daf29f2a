// Opening plugin files and checking their ABI (see plugin_library.hpp).
#include "ftdr/framework/plugins/plugin_library.hpp"

#include <dlfcn.h>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

using sdk::Error;
using sdk::ErrorKind;

constexpr const char* kPrefix = "ftdr_plugin_";
constexpr const char* kSuffix = ".so";

// Boost.DLL's error code does not carry dlerror()'s text (missing dependency, bad ELF), which is
// what a user needs to fix the problem; ask the dynamic loader directly.
std::string dlopen_reason(const std::filesystem::path& file) {
  void* handle = dlopen(file.c_str(), RTLD_LAZY | RTLD_LOCAL);
  if (handle) {
    dlclose(handle);
    return "unknown reason";
  }
  const char* reason = dlerror();
  return reason ? reason : "unknown reason";
}

std::string safe(const char* text) { return text ? text : ""; }

}  // namespace

std::string plugin_file_name(const std::string& name) { return kPrefix + name + kSuffix; }

std::string plugin_name_from_file(const std::filesystem::path& file) {
  const std::string base = file.filename().string();
  const std::string prefix = kPrefix, suffix = kSuffix;
  if (base.size() <= prefix.size() + suffix.size()) return "";
  if (base.compare(0, prefix.size(), prefix) != 0) return "";
  if (base.compare(base.size() - suffix.size(), suffix.size(), suffix) != 0) return "";
  return base.substr(prefix.size(), base.size() - prefix.size() - suffix.size());
}

std::string abi_string(unsigned major, unsigned minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

OpenedPlugin open_plugin_file(const std::filesystem::path& file) {
  OpenedPlugin out;
  try {
    out.library = std::make_shared<boost::dll::shared_library>(
        boost::dll::fs::path(file.string()),
        boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
  } catch (const std::exception&) {
    throw Error(ErrorKind::plugin_error, file.string() + ": cannot load the library: " + dlopen_reason(file));
  }
  for (const char* symbol : {sdk::kDescribeSymbol, sdk::kCreateSymbol}) {
    if (!out.library->has(symbol))
      throw Error(ErrorKind::plugin_error,
                  file.string() + ": not an FTDR plugin: it does not export '" + symbol +
                      "' (declare the plugin with FTDR_DECLARE_PLUGIN, sdk/plugin.hpp)");
  }
  try {
    auto& describe = out.library->get_alias<sdk::PluginDescribeFn>(sdk::kDescribeSymbol);
    const sdk::PluginDescriptor& d = describe();
    out.info.abi_major = d.abi_major;
    out.info.abi_minor = d.abi_minor;
    // Only the two version numbers are trusted before the ABI check; the rest has the layout of
    // ABI major 1, so read it only when the major matches.
    if (d.abi_major == sdk::kAbiMajor) {
      out.info.kind = d.kind;
      out.info.name = safe(d.name);
      out.info.version = safe(d.version);
      out.info.summary = safe(d.summary);
    }
  } catch (const std::exception& e) {
    throw Error(ErrorKind::plugin_error, file.string() + ": describe() threw: " + e.what());
  }
  out.info.file = file;
  return out;
}

void check_abi(const PluginInfo& info) {
  const bool same_major = info.abi_major == sdk::kAbiMajor;
  if (same_major && info.abi_minor <= sdk::kAbiMinor) return;
  throw Error(ErrorKind::plugin_error,
              info.file.string() + ": built for FTDR SDK ABI " + abi_string(info.abi_major, info.abi_minor) +
                  ", but this host has SDK ABI " + abi_string(sdk::kAbiMajor, sdk::kAbiMinor) +
                  " (it loads plugins of ABI major " + std::to_string(sdk::kAbiMajor) + " and minor <= " +
                  std::to_string(sdk::kAbiMinor) + "; rebuild the plugin against this SDK)");
}

}  // namespace ftdr::framework
