// The device memory budget the host passes as host.device_budget_mb (backend_config.h): read into
// the config, applied at construction; on the CPU remembered and shown, not enforced (the CUDA cap is
// tested where a GPU is present: memory_stats.cpp, cap_device_memory).
#include <gtest/gtest.h>

#include "adapter/backend_config.hpp"
#include "adapter/torch_backend.hpp"
#include "ftdr/sdk/error.hpp"
#include "tests/backend_test_support.hpp"

using namespace ftdr;
using test::MapConfig;

namespace {

std::shared_ptr<MapConfig> with_budget(std::int64_t mb) {
  auto cfg =
      std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{{"device", std::string("cpu")}});
  cfg->add_table(
      "host", std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{{"device_budget_mb", mb}}));
  return cfg;
}

}  // namespace

TEST(BackendMemoryBudget, HostValueIsReadIntoTheConfig) {
  EXPECT_EQ(torchbe::parse_backend_config(*with_budget(256), false).device_budget_bytes, 256ull << 20);
  EXPECT_EQ(torchbe::parse_backend_config(MapConfig(), false).device_budget_bytes, 0u)
      << "no host table: no budget";
  EXPECT_THROW(torchbe::parse_backend_config(*with_budget(-1), false), sdk::Error);
}

TEST(BackendMemoryBudget, CpuBackendRemembersAndShowsTheBudgetWithoutACap) {
  sdk::PluginContext ctx;
  ctx.config = with_budget(256);
  torchbe::TorchBackend backend(ctx);
  EXPECT_EQ(backend.memory_budget(), 256ull << 20);
  EXPECT_EQ(backend.memory_fraction(), 0.0) << "no caching allocator to cap on the CPU";
  bool shown = false;
  for (const auto& line : backend.diagnostics())
    shown |= line == "memory budget: 256 MiB (not enforced on the CPU: memory policies only)";
  EXPECT_TRUE(shown);
}

TEST(BackendMemoryBudget, NoBudgetNoDiagnosticLine) {
  sdk::PluginContext ctx;
  ctx.config =
      std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{{"device", std::string("cpu")}});
  torchbe::TorchBackend backend(ctx);
  EXPECT_EQ(backend.memory_budget(), 0u);
  for (const auto& line : backend.diagnostics())
    EXPECT_EQ(line.rfind("memory budget", 0), std::string::npos) << line;
}
