// The `resident` memory policy: every component on the device, nothing offloaded; slicing/tiling
// switched on before a phase that would not fit (plugins/memory/resident).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ftdr/sdk/memory_policy.hpp"
#include "plugins/plugin_test_support.hpp"
#include "resident_policy.hpp"

namespace resident_policy_test {
namespace {

using namespace ftdr;
using plugins::kMiB;
using sdk::Device;
using sdk::Phase;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::Not;

sdk::PlacementRequest request_for(Phase phase, std::vector<std::string> needed) {
  return test::placement_request(phase, std::move(needed),
                                 {{"text_encoder", 235 * kMiB, Device::cpu},
                                  {"unet", 1640 * kMiB, Device::cpu},
                                  {"vae", 160 * kMiB, Device::cpu}},
                                 8192, 7000);
}

TEST(ResidentPolicy, EverythingGoesToTheDeviceAndNothingLeaves) {
  plugins::ResidentPolicy policy({});
  for (auto [phase, needed] : {std::pair{Phase::encoding, "text_encoder"},
                               std::pair{Phase::diffusion, "unet"}, std::pair{Phase::decoding, "vae"}}) {
    auto p = policy.place(request_for(phase, {needed}));
    EXPECT_THAT(p.on_device, ElementsAre("text_encoder", "unet", "vae"));
    EXPECT_THAT(p.on_cpu, IsEmpty());
    EXPECT_FALSE(p.release_cache);
  }
}

TEST(ResidentPolicy, CountsAllWeightsAgainstTheBudget) {
  plugins::ResidentPolicy policy({});
  auto r = request_for(Phase::diffusion, {"unet"});
  r.budget_bytes = 3000 * kMiB;
  r.estimated_activation_bytes = 1000 * kMiB;  // unet alone would fit; all three (2035) do not
  r.estimated_activation_bytes_sliced = 400 * kMiB;
  auto p = policy.place(r);
  EXPECT_EQ(p.options.attention, sdk::AttentionMode::sliced);
  EXPECT_THAT(p.reason, HasSubstr("weights 2035 MiB + activations 1000 MiB = 3035 MiB > budget 3000 MiB"));
  EXPECT_THAT(p.reason, HasSubstr("total 2435 MiB fits"));
  EXPECT_THAT(p.reason, Not(HasSubstr("weights alone")));
}

TEST(ResidentPolicy, DecodingOverBudgetTilesAndFittingDecodingDoesNot) {
  plugins::ResidentPolicy policy({});
  auto r = request_for(Phase::decoding, {"vae"});
  r.budget_bytes = 4000 * kMiB;
  r.estimated_activation_bytes = 1900 * kMiB;
  EXPECT_FALSE(policy.place(r).options.vae_tiling);
  r.estimated_activation_bytes = 2000 * kMiB;
  auto p = policy.place(r);
  EXPECT_TRUE(p.options.vae_tiling);
  EXPECT_THAT(p.reason, HasSubstr("= 4035 MiB > budget 4000 MiB: VAE tiling on"));
}

TEST(ResidentPolicy, WeightsAloneOverBudgetAreCalledOut) {
  plugins::ResidentPolicy policy({});
  auto r = request_for(Phase::diffusion, {"unet"});
  r.budget_bytes = 2000 * kMiB;
  EXPECT_THAT(policy.place(r).reason,
              HasSubstr("the weights alone exceed the budget (use adaptive or sequential)"));
}

TEST(ResidentPolicy, SharedLibraryDescribesItselfAndPlaces) {
  auto cfg = std::make_shared<test::FakeConfig>();
  auto loaded = test::load_plugin("resident", cfg);
  EXPECT_EQ(loaded->descriptor->abi_major, sdk::kAbiMajor);
  EXPECT_EQ(loaded->descriptor->kind, sdk::PluginKind::memory_policy);
  EXPECT_STREQ(loaded->descriptor->name, "resident");
  auto* policy = dynamic_cast<sdk::MemoryPolicy*>(loaded->object.get());
  ASSERT_NE(policy, nullptr);
  auto r = request_for(Phase::decoding, {"vae"});
  r.budget_bytes = 2500 * kMiB;
  r.estimated_activation_bytes = 1000 * kMiB;
  auto p = policy->place(r);
  EXPECT_THAT(p.on_device, ElementsAre("text_encoder", "unet", "vae"));
  EXPECT_TRUE(p.options.vae_tiling);
  EXPECT_EQ(cfg->read_keys(), (std::set<std::string>{"headroom_mb", "auto_slicing", "auto_tiling"}));
}

}  // namespace
}  // namespace resident_policy_test
