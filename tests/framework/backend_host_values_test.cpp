// The host passes [memory] device_budget_mb to the backend as its table's `host.device_budget_mb`
// (plugin_set.hpp); a backend that ignores it still loads.
#include <gtest/gtest.h>

#include <filesystem>

#include "ftdr/framework/config/config.hpp"
#include "ftdr/framework/plugins/plugin_set.hpp"

using namespace ftdr::framework;
namespace fs = std::filesystem;

namespace {

Config config_with(const std::string& memory) {
  return Config::parse(
      "[backend]\nplugin = \"test_backend\"\n[scheduler]\nplugin = \"fifo\"\n"
      "[memory]\npolicy = \"sequential\"\n" +
          memory,
      fs::temp_directory_path() / "ftdr_host_values.toml");
}

PluginLoader fixture_loader() {
  const fs::path fixtures = fs::path(FTDR_BINARY_DIR) / "test-fixtures";
  return PluginLoader(PluginRegistry({fixtures, fs::path(FTDR_PLUGIN_BUILD_DIR)}));
}

}  // namespace

TEST(BackendHostValues, BudgetReachesTheBackendTableAndIgnoringItIsFine) {
  Config cfg = config_with("device_budget_mb = 512\n");
  std::vector<std::string> problems;
  PluginSet set = create_plugins(cfg, fixture_loader(), problems);
  EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems.front());
  ASSERT_TRUE(set.backend) << "test_backend never reads `host`: no unknown-key error";
  auto host = cfg.plugin_table(ftdr::sdk::PluginKind::backend)->table("host");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->get_int("device_budget_mb", 0), 512);
  EXPECT_TRUE(cfg.plugin_table(ftdr::sdk::PluginKind::backend)->unknown_keys().empty());
}

TEST(BackendHostValues, NoBudgetNoHostTable) {
  Config cfg = config_with("");
  std::vector<std::string> problems;
  create_plugins(cfg, fixture_loader(), problems);
  EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems.front());
  EXPECT_FALSE(cfg.plugin_table(ftdr::sdk::PluginKind::backend)->has("host"));
}

// [model] vae, config and prediction_type reach the backend as host.model_* (paths resolved against
// the config file's folder, any character kept).
TEST(BackendHostValues, ModelOptionsReachTheBackendTable) {
  Config cfg = Config::parse(
      "[backend]\nplugin = \"test_backend\"\n[scheduler]\nplugin = \"fifo\"\n[memory]\npolicy = "
      "\"sequential\"\n"
      "[model]\npath = \"m.safetensors\"\nvae = \"vae \\\"x\\\".ckpt\"\nconfig = \"/cfg\"\nprediction_type = "
      "\"v_prediction\"\n",
      fs::path("/etc/ftdr") / "host_values.toml");
  std::vector<std::string> problems;
  PluginSet set = create_plugins(cfg, fixture_loader(), problems);
  EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems.front());
  auto host = cfg.plugin_table(ftdr::sdk::PluginKind::backend)->table("host");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->get_string(ftdr::sdk::kHostModelVae, ""), "/etc/ftdr/vae \"x\".ckpt");
  EXPECT_EQ(host->get_string(ftdr::sdk::kHostModelConfig, ""), "/cfg");
  EXPECT_EQ(host->get_string(ftdr::sdk::kHostModelPredictionType, ""), "v_prediction");
  EXPECT_FALSE(host->has(ftdr::sdk::kHostDeviceBudgetMb));
  EXPECT_TRUE(cfg.plugin_table(ftdr::sdk::PluginKind::backend)->unknown_keys().empty());
}
