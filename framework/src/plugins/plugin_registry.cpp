// The plugin search path and listing (see plugin_registry.hpp).
#include "ftdr/framework/plugins/plugin_registry.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>

#include <boost/dll/runtime_symbol_info.hpp>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {
namespace fs = std::filesystem;

std::vector<fs::path> split_path_list(const char* text) {
  std::vector<fs::path> out;
  if (!text) return out;
  std::string all(text);
  std::size_t start = 0;
  while (start <= all.size()) {
    std::size_t end = all.find(':', start);
    if (end == std::string::npos) end = all.size();
    if (end > start) out.emplace_back(all.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

fs::path exe_relative_plugin_dir() {
  boost::system::error_code ec;
  auto exe = boost::dll::program_location(ec);
  if (ec) return {};
  const fs::path reldir(FTDR_PLUGIN_INSTALL_RELDIR);
  if (reldir.is_absolute()) return {};
  return fs::path(exe.parent_path().string()) / ".." / reldir;
}

}  // namespace

PluginRegistry::PluginRegistry(std::vector<fs::path> search_path) : search_path_(std::move(search_path)) {}

std::vector<fs::path> PluginRegistry::default_search_path(const std::vector<fs::path>& config_dirs) {
  std::vector<fs::path> candidates = config_dirs;
  for (auto& dir : split_path_list(std::getenv("FTDR_PLUGIN_PATH"))) candidates.push_back(dir);
  if (auto dir = exe_relative_plugin_dir(); !dir.empty()) candidates.push_back(dir);
  candidates.emplace_back(FTDR_PLUGIN_INSTALL_DIR);
  candidates.emplace_back(FTDR_PLUGIN_BUILD_DIR);
  std::vector<fs::path> out;
  for (auto& dir : candidates) {
    std::error_code ec;
    fs::path normal = fs::absolute(dir, ec).lexically_normal();
    if (auto canonical = fs::weakly_canonical(normal, ec); !ec) normal = canonical;
    if (std::find(out.begin(), out.end(), normal) == out.end()) out.push_back(normal);
  }
  return out;
}

std::optional<fs::path> PluginRegistry::find_file(const std::string& name) const {
  for (const auto& dir : search_path_) {
    std::error_code ec;
    fs::path file = dir / plugin_file_name(name);
    if (fs::is_regular_file(file, ec)) return file;
  }
  return std::nullopt;
}

std::vector<fs::path> PluginRegistry::plugin_files() const {
  std::vector<fs::path> out;
  for (const auto& dir : search_path_) {
    std::error_code ec;
    std::vector<fs::path> here;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!plugin_name_from_file(it->path()).empty() && it->is_regular_file(ec)) here.push_back(it->path());
    }
    std::sort(here.begin(), here.end());  // directory order is arbitrary; listings are not
    out.insert(out.end(), here.begin(), here.end());
  }
  return out;
}

std::string PluginRegistry::not_found_message(const std::string& name) const {
  std::string msg = "no plugin named '" + name + "' (looked for " + plugin_file_name(name) + " in: ";
  for (std::size_t i = 0; i < search_path_.size(); ++i) {
    std::error_code ec;
    msg += (i ? ", " : "") + search_path_[i].string() +
           (fs::is_directory(search_path_[i], ec) ? "" : " (missing)");
  }
  msg += "); plugins found: ";
  std::vector<std::string> names;
  for (const auto& file : plugin_files()) names.push_back(plugin_name_from_file(file));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.empty()) msg += "none";
  for (std::size_t i = 0; i < names.size(); ++i) msg += (i ? ", " : "") + names[i];
  msg += " (add a folder with [plugins] search_path or FTDR_PLUGIN_PATH)";
  return msg;
}

PluginListing PluginRegistry::scan() const {
  PluginListing listing;
  std::map<std::string, fs::path> first_by_name;
  for (const auto& file : plugin_files()) {
    const std::string name = plugin_name_from_file(file);
    if (auto it = first_by_name.find(name); it != first_by_name.end()) {
      listing.refused.push_back(
          {file, file.string() + ": shadowed by " + it->second.string() + " (earlier in the search path)"});
      continue;
    }
    first_by_name[name] = file;
    try {
      OpenedPlugin opened = open_plugin_file(file);
      check_abi(opened.info);
      if (opened.info.name != name)
        throw sdk::Error(sdk::ErrorKind::plugin_error, file.string() + ": the file is named for plugin '" +
                                                           name + "' but the plugin calls itself '" +
                                                           opened.info.name + "'");
      listing.plugins.push_back(opened.info);
    } catch (const sdk::Error& e) {
      listing.refused.push_back({file, e.what()});
    }
  }
  return listing;
}

}  // namespace ftdr::framework
