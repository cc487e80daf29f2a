// ftdr/framework/plugins/plugin_registry.hpp: where plugins are looked for, and what is there.
//
// The search path, in order (the first folder holding ftdr_plugin_<name>.so wins):
//   1. the config's [plugins] search_path,
//   2. the FTDR_PLUGIN_PATH environment variable (colon-separated),
//   3. the installed plugin folder: <exe>/../lib/ftdr/plugins, then the configured install prefix's,
//   4. the build tree's plugin folder (so an uninstalled build runs as it is).
//
//   PluginRegistry reg(PluginRegistry::default_search_path(cfg.host().plugin_search_path));
//   auto listing = reg.scan();   // every plugin file: usable ones, and refused ones with the reason
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ftdr/framework/plugins/plugin_library.hpp"

namespace ftdr::framework {

struct RefusedPlugin {
  std::filesystem::path file;
  std::string reason;  // the full message (it names the file)
};

struct PluginListing {
  std::vector<PluginInfo> plugins;     // usable, in search-path order, one per name
  std::vector<RefusedPlugin> refused;  // not loadable, wrong ABI, or shadowed by an earlier file
};

class PluginRegistry {
 public:
  explicit PluginRegistry(std::vector<std::filesystem::path> search_path);

  // The search path described above, with `config_dirs` first; duplicates removed.
  static std::vector<std::filesystem::path> default_search_path(
      const std::vector<std::filesystem::path>& config_dirs = {});

  const std::vector<std::filesystem::path>& search_path() const { return search_path_; }

  // The first ftdr_plugin_<name>.so in the search path; nothing when none exists.
  std::optional<std::filesystem::path> find_file(const std::string& name) const;
  // Every plugin file name in the search path, in order, without loading anything.
  std::vector<std::filesystem::path> plugin_files() const;
  // "no plugin named 'x' ...": the folders searched (missing ones marked) and the plugins found.
  std::string not_found_message(const std::string& name) const;

  // Opens every plugin file (describe only), ABI-checks it, and unloads it again.
  PluginListing scan() const;

 private:
  std::vector<std::filesystem::path> search_path_;
};

}  // namespace ftdr::framework
