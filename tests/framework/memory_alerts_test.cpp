// [memory] warning_pct / critical_pct against each phase's peak memory.
#include <gtest/gtest.h>

#include "ftdr/framework/engine/memory_alerts.hpp"

namespace ftdr::framework {
namespace {

PhaseRecord phase(sdk::Phase p, double peak_mib, double total_mib = 0) {
  PhaseRecord r;
  r.phase = p;
  r.after.peak_bytes = static_cast<std::uint64_t>(peak_mib * 1024 * 1024);
  r.after.total_bytes = static_cast<std::uint64_t>(total_mib * 1024 * 1024);
  return r;
}

TEST(MemoryAlerts, AgainstTheConfiguredBudget) {
  MemoryConfig m;
  m.device_budget_mb = 1000;
  m.warning_pct = 80;
  m.critical_pct = 95;
  auto alerts = memory_alerts(
      {phase(sdk::Phase::encoding, 500), phase(sdk::Phase::diffusion, 900), phase(sdk::Phase::decoding, 960)},
      m);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_FALSE(alerts[0].critical);
  EXPECT_EQ(alerts[0].message,
            "diffusion (attempt 1): peak 0.88 GiB is 90.0% of the 0.98 GiB budget (warning_pct 80)");
  EXPECT_TRUE(alerts[1].critical);
  EXPECT_EQ(alerts[1].message,
            "decoding (attempt 1): peak 0.94 GiB is 96.0% of the 0.98 GiB budget (critical_pct 95)");
}

TEST(MemoryAlerts, WithoutABudgetTheDeviceTotalCounts) {
  MemoryConfig m;  // device_budget_mb = 0, warning 85, critical 95
  auto alerts =
      memory_alerts({phase(sdk::Phase::diffusion, 3500, 4000), phase(sdk::Phase::decoding, 100, 4000)}, m);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_FALSE(alerts[0].critical);
  EXPECT_NE(alerts[0].message.find("87.5%"), std::string::npos);
}

TEST(MemoryAlerts, NothingMeasuredNothingSaid) {
  EXPECT_TRUE(memory_alerts({phase(sdk::Phase::diffusion, 0, 4000), phase(sdk::Phase::decoding, 100, 0)}, {})
                  .empty());
}

}  // namespace
}  // namespace ftdr::framework
