// The memory policy, recovery and tiling plugins read their tables through the host's real config
// view and loader: every shipped config (configs/*.toml) is accepted, every documented key is read
// (none reported unknown), and a misspelt key is reported by the host.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "ftdr/framework/config/config.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"

namespace {

using namespace ftdr;
using testing::HasSubstr;
namespace fs = std::filesystem;

framework::PluginLoader loader() {
  return framework::PluginLoader(framework::PluginRegistry({fs::path(FTDR_PLUGIN_BUILD_DIR)}), "");
}

std::shared_ptr<framework::TomlConfigView> table(const std::string& toml, const std::string& section) {
  return framework::ConfigDocument::parse_string(toml, "/cfg/test.toml")->view(section);
}

const std::vector<std::string> kOurs{"sequential", "resident", "adaptive", "progressive", "overlap"};

TEST(PluginConfigTables, ShippedConfigsAreAcceptedByTheirPlugins) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(FTDR_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".toml") continue;
    SCOPED_TRACE(entry.path().string());
    const auto cfg = framework::Config::load(entry.path());
    for (auto kind : {sdk::PluginKind::memory_policy, sdk::PluginKind::recovery, sdk::PluginKind::tiling}) {
      const std::string& name = cfg.host().plugin_name(kind);
      if (std::find(kOurs.begin(), kOurs.end(), name) == kOurs.end()) continue;
      EXPECT_NO_THROW(loader().create(kind, name, cfg.plugin_table(kind))) << name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no config in configs/ uses these plugins";
}

TEST(PluginConfigTables, EveryDocumentedKeyIsRead) {
  const std::string budget = "headroom_mb = 64\nauto_slicing = false\nauto_tiling = true\n";
  EXPECT_NO_THROW(loader().create(sdk::PluginKind::memory_policy, "sequential",
                                  table("[memory.sequential]\n" + budget, "memory.sequential")));
  EXPECT_NO_THROW(loader().create(sdk::PluginKind::memory_policy, "resident",
                                  table("[memory.resident]\n" + budget, "memory.resident")));
  EXPECT_NO_THROW(
      loader().create(sdk::PluginKind::memory_policy, "adaptive",
                      table("[memory.adaptive]\neviction = \"lru\"\n" + budget, "memory.adaptive")));
  EXPECT_NO_THROW(loader().create(sdk::PluginKind::recovery, "progressive",
                                  table(R"([recovery.progressive]
max_retries = 6
backoff_initial_ms = 100
backoff_max_ms = 2000
jitter = 0.25
seed = 7
encoding_oom_ladder = ["offload"]
diffusion_oom_ladder = ["slicing", "split_batch", "reduce_resolution"]
decoding_oom_ladder = ["tiling"]
slice_size = 1024
small_slice_size = 128
resolution_factor = 0.5
size_multiple = 8
min_size = 128
numerical_retries = 1
device_error_retries = 3
timeout_retries = 2
)",
                                        "recovery.progressive")));
  EXPECT_NO_THROW(loader().create(sdk::PluginKind::tiling, "overlap",
                                  table(R"([tiling.overlap]
tile_size = 48
overlap = 12
min_tile_size = 16
bytes_per_pixel = 1024
)",
                                        "tiling.overlap")));
}

TEST(PluginConfigTables, MisspeltKeysAndBadValuesAreReportedByTheHost) {
  try {
    loader().create(sdk::PluginKind::recovery, "progressive",
                    table("[recovery.progressive]\nmax_retrys = 3\n", "recovery.progressive"));
    FAIL() << "expected an error";
  } catch (const sdk::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("max_retrys"));
  }
  try {
    loader().create(sdk::PluginKind::tiling, "overlap",
                    table("[tiling.overlap]\noverlap = 40\n", "tiling.overlap"));
    FAIL() << "expected an error";
  } catch (const sdk::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("/cfg/test.toml:2"));
    EXPECT_THAT(e.what(), HasSubstr("overlap"));
    EXPECT_THAT(e.what(), HasSubstr("from 0 to tile_size / 2 (16)"));
  }
  try {
    loader().create(
        sdk::PluginKind::recovery, "progressive",
        table("[recovery.progressive]\ndiffusion_oom_ladder = \"slicing\"\n", "recovery.progressive"));
    FAIL() << "expected an error";
  } catch (const sdk::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("diffusion_oom_ladder"));
    EXPECT_THAT(e.what(), HasSubstr("an array of strings"));
  }
}

}  // namespace
