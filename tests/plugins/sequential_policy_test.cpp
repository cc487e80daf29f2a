// The `sequential` memory policy: only the phase's components on the device, the rest to the CPU,
// slicing/tiling switched on before a phase that would not fit (plugins/memory/sequential).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ftdr/sdk/memory_policy.hpp"
#include "plugins/plugin_test_support.hpp"
#include "sequential_policy.hpp"

namespace sequential_policy_test {
namespace {

using namespace ftdr;
using plugins::kMiB;
using sdk::Device;
using sdk::Phase;
using testing::ElementsAre;
using testing::HasSubstr;

// SD-1.5-like sizes at f16: text encoder 235 MiB, unet 1640 MiB, vae 160 MiB.
sdk::PlacementRequest request_for(Phase phase, std::vector<std::string> needed) {
  return test::placement_request(phase, std::move(needed),
                                 {{"text_encoder", 235 * kMiB, Device::cuda},
                                  {"unet", 1640 * kMiB, Device::cpu},
                                  {"vae", 160 * kMiB, Device::cuda}},
                                 4096, 3000);
}

TEST(SequentialPolicy, OnlyNeededComponentsGoToTheDeviceAndAllOthersToTheCpu) {
  plugins::SequentialPolicy policy({});
  auto p = policy.place(request_for(Phase::diffusion, {"unet"}));
  EXPECT_THAT(p.on_device, ElementsAre("unet"));
  EXPECT_THAT(p.on_cpu, ElementsAre("text_encoder", "vae"));
  EXPECT_TRUE(p.release_cache);

  p = policy.place(request_for(Phase::decoding, {"vae"}));
  EXPECT_THAT(p.on_device, ElementsAre("vae"));
  EXPECT_THAT(p.on_cpu, ElementsAre("text_encoder", "unet"));
}

TEST(SequentialPolicy, FittingPhaseKeepsOptionsAndReasonShowsBothNumbers) {
  plugins::SequentialPolicy policy({});
  auto r = request_for(Phase::diffusion, {"unet"});
  r.budget_bytes = 3000 * kMiB;
  r.estimated_activation_bytes = 1000 * kMiB;
  r.options.attention = sdk::AttentionMode::sdpa;
  auto p = policy.place(r);
  EXPECT_EQ(p.options.attention, sdk::AttentionMode::sdpa);
  EXPECT_FALSE(p.options.vae_tiling);
  EXPECT_THAT(p.reason,
              HasSubstr("weights 1640 MiB + activations 1000 MiB = 2640 MiB <= budget 3000 MiB: fits"));
}

TEST(SequentialPolicy, DiffusionOverBudgetSwitchesSlicingOnWhenTheSlicedEstimateFits) {
  plugins::SequentialPolicy policy({});
  auto r = request_for(Phase::diffusion, {"unet"});
  r.budget_bytes = 3000 * kMiB;
  r.estimated_activation_bytes = 2000 * kMiB;
  r.estimated_activation_bytes_sliced = 600 * kMiB;
  r.options.attention_slice_size = 512;
  auto p = policy.place(r);
  EXPECT_EQ(p.options.attention, sdk::AttentionMode::sliced);
  EXPECT_EQ(p.options.attention_slice_size, 512);  // the size is the backend's or recovery's choice
  EXPECT_THAT(p.reason, HasSubstr("= 3640 MiB > budget 3000 MiB: attention slicing on"));
  EXPECT_THAT(p.reason, HasSubstr("activations 600 MiB, total 2240 MiB fits"));
}

TEST(SequentialPolicy, SlicedEstimateOverBudgetStillSlicesAndSaysSo) {
  plugins::SequentialPolicy policy({});
  auto r = request_for(Phase::diffusion, {"unet"});
  r.budget_bytes = 2000 * kMiB;
  r.estimated_activation_bytes = 2000 * kMiB;
  r.estimated_activation_bytes_sliced = 500 * kMiB;
  auto p = policy.place(r);
  EXPECT_EQ(p.options.attention, sdk::AttentionMode::sliced);
  EXPECT_THAT(p.reason, HasSubstr("total 2140 MiB still over budget"));
}

TEST(SequentialPolicy, DecodingOverBudgetSwitchesTilingOn) {
  plugins::SequentialPolicy policy({});
  auto r = request_for(Phase::decoding, {"vae"});
  r.budget_bytes = 1000 * kMiB;
  r.estimated_activation_bytes = 900 * kMiB;
  auto p = policy.place(r);
  EXPECT_TRUE(p.options.vae_tiling);
  EXPECT_EQ(p.options.attention, sdk::AttentionMode::automatic);  // slicing is for diffusion only
  EXPECT_THAT(p.reason,
              HasSubstr("decoding: weights 160 MiB + activations 900 MiB = 1060 MiB > budget 1000 MiB: "
                        "VAE tiling on"));
}

TEST(SequentialPolicy, ZeroBudgetMeansFreeMemoryPlusWhatIsAlreadyOnTheDevice) {
  plugins::SequentialPolicy policy({});
  auto r = request_for(Phase::diffusion, {"unet"});
  r.memory.free_bytes = 1700 * kMiB;  // text_encoder (235) and vae (160) are on the device
  r.estimated_activation_bytes = 400 * kMiB;
  auto p = policy.place(r);  // 1640 + 400 = 2040 <= 1700 + 395 = 2095
  EXPECT_THAT(p.reason, HasSubstr("= 2040 MiB <= budget 2095 MiB: fits"));
  r.estimated_activation_bytes = 500 * kMiB;
  p = policy.place(r);
  EXPECT_EQ(p.options.attention, sdk::AttentionMode::sliced);
  EXPECT_THAT(p.reason, HasSubstr("= 2140 MiB > budget 2095 MiB"));
}

TEST(SequentialPolicy, ZeroBudgetCountsTheAllocatorsUnusedCacheAsFree) {
  plugins::SequentialPolicy policy({});
  auto r = request_for(Phase::diffusion, {"unet"});
  r.memory.free_bytes = 1000 * kMiB;
  r.memory.reserved_bytes = 900 * kMiB;  // 395 MiB of it hold text_encoder and vae, 505 unused
  r.memory.allocated_bytes = 395 * kMiB;
  r.estimated_activation_bytes = 100 * kMiB;
  auto p = policy.place(r);  // 1000 + 505 + 395 = 1900
  EXPECT_THAT(p.reason,
              HasSubstr("weights 1640 MiB + activations 100 MiB = 1740 MiB <= budget 1900 MiB: fits"));
}

TEST(SequentialPolicy, HeadroomLowersTheBudget) {
  plugins::SequentialPolicy policy({256 * kMiB, true, true});
  auto r = request_for(Phase::decoding, {"vae"});
  r.budget_bytes = 1000 * kMiB;
  r.estimated_activation_bytes = 700 * kMiB;  // 860 fits 1000 but not 1000 - 256
  auto p = policy.place(r);
  EXPECT_TRUE(p.options.vae_tiling);
  EXPECT_THAT(p.reason, HasSubstr("> budget 744 MiB"));
}

TEST(SequentialPolicy, AutoSwitchesCanBeTurnedOff) {
  plugins::SequentialPolicy policy({0, false, false});
  auto r = request_for(Phase::diffusion, {"unet"});
  r.budget_bytes = 1000 * kMiB;
  r.estimated_activation_bytes = 1000 * kMiB;
  auto p = policy.place(r);
  EXPECT_EQ(p.options.attention, sdk::AttentionMode::automatic);
  EXPECT_THAT(p.reason, HasSubstr("auto_slicing is off"));
  r = request_for(Phase::decoding, {"vae"});
  r.budget_bytes = 100 * kMiB;
  r.estimated_activation_bytes = 1000 * kMiB;
  EXPECT_FALSE(policy.place(r).options.vae_tiling);
}

TEST(SequentialPolicy, EncodingOverBudgetHasNothingToSwitch) {
  plugins::SequentialPolicy policy({});
  auto r = request_for(Phase::encoding, {"text_encoder"});
  r.budget_bytes = 200 * kMiB;
  r.estimated_activation_bytes = 100 * kMiB;
  auto p = policy.place(r);
  EXPECT_EQ(p.options.attention, sdk::AttentionMode::automatic);
  EXPECT_FALSE(p.options.vae_tiling);
  EXPECT_THAT(p.reason, HasSubstr("nothing to switch on for encoding"));
}

TEST(SequentialPolicy, NoMemoryReportedAndNoBudgetSkipsTheCheck) {
  plugins::SequentialPolicy policy({});
  auto r = request_for(Phase::diffusion, {"unet"});
  r.memory = {};
  r.estimated_activation_bytes = 100000 * kMiB;
  auto p = policy.place(r);
  EXPECT_EQ(p.options.attention, sdk::AttentionMode::automatic);
  EXPECT_THAT(p.reason, HasSubstr("no check"));
}

TEST(SequentialPolicy, UnknownNeededComponentIsAnInternalError) {
  plugins::SequentialPolicy policy({});
  try {
    policy.place(request_for(Phase::diffusion, {"transformer"}));
    FAIL() << "expected an error";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::internal);
    EXPECT_THAT(e.what(), HasSubstr("'transformer'"));
    EXPECT_THAT(e.what(), HasSubstr("text_encoder, unet, vae"));
  }
}

TEST(SequentialPolicy, ReadsItsKeysAndRejectsNegativeHeadroom) {
  auto cfg = std::make_shared<test::FakeConfig>(std::map<std::string, test::FakeConfig::Value>{
      {"headroom_mb", std::int64_t{128}}, {"auto_tiling", false}});
  auto s = plugins::read_budget_settings(cfg.get());
  EXPECT_EQ(s.headroom_bytes, 128 * kMiB);
  EXPECT_TRUE(s.auto_slicing);
  EXPECT_FALSE(s.auto_tiling);
  EXPECT_EQ(cfg->read_keys(), (std::set<std::string>{"headroom_mb", "auto_slicing", "auto_tiling"}));

  test::FakeConfig bad({{"headroom_mb", std::int64_t{-1}}});
  try {
    plugins::read_budget_settings(&bad);
    FAIL() << "expected an error";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_THAT(e.what(), HasSubstr("headroom_mb"));
  }
}

TEST(SequentialPolicy, SharedLibraryDescribesItselfAndPlaces) {
  auto cfg = std::make_shared<test::FakeConfig>(
      std::map<std::string, test::FakeConfig::Value>{{"headroom_mb", std::int64_t{0}}});
  auto loaded = test::load_plugin("sequential", cfg);
  EXPECT_EQ(loaded->descriptor->abi_major, sdk::kAbiMajor);
  EXPECT_EQ(loaded->descriptor->abi_minor, sdk::kAbiMinor);
  EXPECT_EQ(loaded->descriptor->kind, sdk::PluginKind::memory_policy);
  EXPECT_STREQ(loaded->descriptor->name, "sequential");
  auto* policy = dynamic_cast<sdk::MemoryPolicy*>(loaded->object.get());
  ASSERT_NE(policy, nullptr);
  auto p = policy->place(request_for(Phase::encoding, {"text_encoder"}));
  EXPECT_THAT(p.on_device, ElementsAre("text_encoder"));
  EXPECT_THAT(p.on_cpu, ElementsAre("unet", "vae"));
  EXPECT_EQ(cfg->read_keys(), (std::set<std::string>{"headroom_mb", "auto_slicing", "auto_tiling"}));
}

}  // namespace
}  // namespace sequential_policy_test
