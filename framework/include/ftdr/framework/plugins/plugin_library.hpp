// ftdr/framework/plugins/plugin_library.hpp: opening one plugin file and reading its descriptor.
//
// A plugin file is ftdr_plugin_<name>.so exporting the two symbols of sdk/plugin.hpp. Opening it
// reads the descriptor (copied, so it outlives the library); check_abi() then says whether this host
// may create objects from it. PluginRegistry (listing, search path) and PluginLoader (creation) are
// built on these two calls.
//
//   OpenedPlugin p = open_plugin_file("/usr/lib/ftdr/plugins/ftdr_plugin_fifo.so");
//   check_abi(p.info);   // throws Error(plugin_error) naming the file and both versions
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include <boost/dll/shared_library.hpp>

#include "ftdr/sdk/plugin.hpp"

namespace ftdr::framework {

// What a plugin says about itself, and where it was found.
struct PluginInfo {
  sdk::PluginKind kind = sdk::PluginKind::backend;
  std::string name;
  std::string version;
  std::string summary;
  unsigned abi_major = 0, abi_minor = 0;
  std::filesystem::path file;
};

struct OpenedPlugin {
  std::shared_ptr<boost::dll::shared_library> library;
  PluginInfo info;
};

// "ftdr_plugin_<name>.so"
std::string plugin_file_name(const std::string& name);
// The <name> of "ftdr_plugin_<name>.so", or "" when the file name does not have that shape.
std::string plugin_name_from_file(const std::filesystem::path& file);

// Loads the library and calls its describe(). Throws Error(plugin_error) naming the file when it
// cannot be loaded (with the loader's reason), lacks either export, or describe() throws.
OpenedPlugin open_plugin_file(const std::filesystem::path& file);

// Throws Error(plugin_error) when this host must not create objects from a plugin built for
// info's ABI (another major, or a newer minor), naming the file and both versions.
void check_abi(const PluginInfo& info);

// "1.0"
std::string abi_string(unsigned major, unsigned minor);

}  // namespace ftdr::framework
