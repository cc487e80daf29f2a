// tests/integration/fixture_config.hpp: a config that runs on the test fixtures (the test_backend
// plugin and the tiny model folder) plus the build's real scheduler, memory, recovery and tiling
// plugins, so CLI tests need no libtorch. FTDR_PLUGIN_PATH must name the fixture folder.
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include "integration/cli_runner.hpp"

namespace ftdr::test {

inline std::string fixture_config_text(const std::filesystem::path& dir, const std::string& extra = "") {
  return "[runtime]\nstate_dir = \"" + (dir / "state").string() + "\"\noutput_dir = \"" +
         (dir / "out").string() + "\"\n[model]\npath = \"" + std::string(FTDR_SOURCE_DIR) +
         "/tests/fixtures/models/tiny\"\n" +
         "[backend]\nplugin = \"test_backend\"\n[scheduler]\nplugin = \"fifo\"\n[memory]\npolicy = "
         "\"sequential\"\n" +
         "[generate]\nwidth = 16\nheight = 8\nsteps = 3\nseed = 7\n" + extra;
}

inline std::filesystem::path write_fixture_config(const std::filesystem::path& dir,
                                                  const std::string& extra = "") {
  auto file = dir / "ftdr.toml";
  write_file(file, fixture_config_text(dir, extra));
  return file;
}

inline std::map<std::string, std::string> fixture_env() { return {{"FTDR_PLUGIN_PATH", fixture_dir()}}; }

}  // namespace ftdr::test
