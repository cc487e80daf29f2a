// ftdr_bench_plugin_load: how long loading each plugin takes, for every plugin in the default
// search path (the build tree's plugin folder, $FTDR_PLUGIN_PATH, ...).
//
// Per plugin: the first open in the process (dlopen, with the libraries it pulls in, e.g. libtorch,
// + describe + ABI check), then 5 rounds of open, create (the factory with an empty config table)
// and destroy + unload, printing the median of each in milliseconds; no assertions. A library that
// cannot be unloaded (GNU unique symbols, libtorch) stays mapped, so its later opens are cheap.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <vector>

#include "ftdr/framework/config/config_view.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace fw = ftdr::framework;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  constexpr int kRounds = 5;
  fw::setup_logging(spdlog::level::warn);
  fw::PluginRegistry registry(fw::PluginRegistry::default_search_path());
  fw::PluginLoader loader(registry, std::filesystem::temp_directory_path().string());
  // Time every first open before anything else loads the files.
  std::map<std::filesystem::path, double> first_open_ms;
  for (const auto& file : registry.plugin_files()) {
    auto start = Clock::now();
    try {
      fw::open_plugin_file(file);
      first_open_ms[file] = ms_since(start);
    } catch (const std::exception&) {
    }
  }
  fw::PluginListing listing = registry.scan();
  std::printf("plugin load times (ms): first open in the process, then the median of %d rounds\n", kRounds);
  std::printf("%-15s %-14s %9s %11s %10s %10s  %s\n", "kind", "name", "size KiB", "first open", "open",
              "create", "file");
  for (const auto& info : listing.plugins) {
    std::vector<double> open_ms, create_ms;
    std::string error;
    for (int round = 0; round < kRounds && error.empty(); ++round) {
      auto start = Clock::now();
      fw::OpenedPlugin opened = fw::open_plugin_file(info.file);
      fw::check_abi(opened.info);
      open_ms.push_back(ms_since(start));
      opened.library.reset();
      auto config = fw::ConfigDocument::parse_string("", "(bench)")->view("");
      start = Clock::now();
      try {
        auto object = loader.create(info.kind, info.name, config);
        create_ms.push_back(ms_since(start));
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    const auto kib = std::filesystem::file_size(info.file) / 1024;
    if (!error.empty()) {
      std::printf("%-15s %-14s %9ju %11.3f %10.3f %10s  %s (create failed: %s)\n",
                  std::string(ftdr::sdk::to_string(info.kind)).c_str(), info.name.c_str(),
                  static_cast<std::uintmax_t>(kib), first_open_ms[info.file], median(open_ms), "-",
                  info.file.c_str(), error.c_str());
      continue;
    }
    // create() includes its own open: the loader opens the file each time, as the host does.
    std::printf("%-15s %-14s %9ju %11.3f %10.3f %10.3f  %s\n",
                std::string(ftdr::sdk::to_string(info.kind)).c_str(), info.name.c_str(),
                static_cast<std::uintmax_t>(kib), first_open_ms[info.file], median(open_ms),
                median(create_ms), info.file.c_str());
  }
  for (const auto& r : listing.refused) std::printf("refused: %s\n", r.reason.c_str());
  return 0;
}
