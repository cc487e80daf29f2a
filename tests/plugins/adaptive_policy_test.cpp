// The `adaptive` memory policy: keeps what fits on the device, evicts (largest first or LRU) only
// when the phase would not fit, then slices/tiles (plugins/memory/adaptive).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adaptive_policy.hpp"
#include "ftdr/sdk/memory_policy.hpp"
#include "plugins/plugin_test_support.hpp"

namespace {

using namespace ftdr;
using plugins::kMiB;
using sdk::Device;
using sdk::Phase;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;

struct Fleet {
  std::vector<sdk::ComponentInfo> components{{"text_encoder", 300 * kMiB, Device::cpu},
                                             {"unet", 1600 * kMiB, Device::cpu},
                                             {"vae", 200 * kMiB, Device::cpu}};

  // Carries out a placement the way the backend would.
  void apply(const sdk::Placement& p) {
    for (auto& c : components) {
      for (const auto& n : p.on_device)
        if (n == c.name) c.location = Device::cuda;
      for (const auto& n : p.on_cpu)
        if (n == c.name) c.location = Device::cpu;
    }
  }
  sdk::PlacementRequest request(Phase phase, std::string needed, std::uint64_t budget_mib,
                                std::uint64_t activations_mib) const {
    sdk::PlacementRequest r = test::placement_request(phase, {std::move(needed)}, components, 8192, 4096);
    r.budget_bytes = budget_mib * kMiB;
    r.estimated_activation_bytes = activations_mib * kMiB;
    return r;
  }
};

TEST(AdaptivePolicy, KeepsEverythingResidentWhileItFits) {
  plugins::AdaptivePolicy policy({});
  Fleet fleet;
  for (auto [phase, needed] : {std::pair{Phase::encoding, "text_encoder"},
                               std::pair{Phase::diffusion, "unet"}, std::pair{Phase::decoding, "vae"}}) {
    auto p = policy.place(fleet.request(phase, needed, 4000, 500));
    EXPECT_THAT(p.on_device, ElementsAre(needed));
    EXPECT_THAT(p.on_cpu, IsEmpty());
    EXPECT_FALSE(p.release_cache);
    fleet.apply(p);
  }
  for (const auto& c : fleet.components) EXPECT_EQ(c.location, Device::cuda) << c.name;
}

TEST(AdaptivePolicy, EvictsLargestFirstOnlyAsMuchAsNeeded) {
  plugins::AdaptivePolicy policy({});
  Fleet fleet;
  fleet.components[0].location = Device::cuda;  // text_encoder 300
  fleet.components[1].location = Device::cuda;  // unet 1600
  // Decoding: vae 200 + 1500 activations = 1700; with both kept 3600 > 2500; without unet 2000 fits.
  auto p = policy.place(fleet.request(Phase::decoding, "vae", 2500, 1500));
  EXPECT_THAT(p.on_device, ElementsAre("vae"));
  EXPECT_THAT(p.on_cpu, ElementsAre("unet"));
  EXPECT_TRUE(p.release_cache);
  EXPECT_FALSE(p.options.vae_tiling);
  EXPECT_THAT(p.reason, HasSubstr("kept text_encoder, evicted unet"));
  EXPECT_THAT(p.reason,
              HasSubstr("weights 500 MiB + activations 1500 MiB = 2000 MiB <= budget 2500 MiB: fits"));
}

TEST(AdaptivePolicy, EvictsEverythingThenTilesWhenThePhaseAloneDoesNotFit) {
  plugins::AdaptivePolicy policy({});
  Fleet fleet;
  fleet.components[0].location = Device::cuda;
  fleet.components[1].location = Device::cuda;
  auto p = policy.place(fleet.request(Phase::decoding, "vae", 1000, 900));
  EXPECT_THAT(p.on_cpu, ElementsAre("unet", "text_encoder"));
  EXPECT_TRUE(p.options.vae_tiling);
  EXPECT_THAT(p.reason,
              HasSubstr("weights 200 MiB + activations 900 MiB = 1100 MiB > budget 1000 MiB: VAE tiling on"));
}

TEST(AdaptivePolicy, LruEvictsTheComponentNeededLongestAgo) {
  plugins::AdaptivePolicy policy({{}, plugins::Eviction::lru});
  Fleet fleet;
  // text_encoder, then unet, then vae are used: all resident.
  fleet.apply(policy.place(fleet.request(Phase::encoding, "text_encoder", 8000, 10)));
  fleet.apply(policy.place(fleet.request(Phase::diffusion, "unet", 8000, 10)));
  fleet.apply(policy.place(fleet.request(Phase::decoding, "vae", 8000, 10)));
  // Next job's encoding at a tight budget: LRU evicts unet (used before vae) and keeps vae.
  // text_encoder 300 + 100 act = 400; kept unet 1600 + vae 200: 2200 > 2100; evicting unet -> 600 fits.
  auto p = policy.place(fleet.request(Phase::encoding, "text_encoder", 2100, 100));
  EXPECT_THAT(p.on_cpu, ElementsAre("unet"));
  fleet.apply(p);
  // Diffusion again: unet comes back; LRU evicts vae (last used before text_encoder) first.
  // unet 1600 + 300 act = 1900; kept text_encoder 300 + vae 200 -> 2400 > 2150; without vae 2200 > 2150;
  // without both 1900 fits.
  p = policy.place(fleet.request(Phase::diffusion, "unet", 2150, 300));
  EXPECT_THAT(p.on_cpu, ElementsAre("vae", "text_encoder"));
}

TEST(AdaptivePolicy, LruAndLargestDifferInOrder) {
  // vae was needed longest ago, text_encoder is bigger: LRU evicts vae, largest evicts text_encoder.
  Fleet fleet;
  fleet.components[0].location = Device::cuda;
  fleet.components[2].location = Device::cuda;
  plugins::AdaptivePolicy lru({{}, plugins::Eviction::lru});
  plugins::AdaptivePolicy largest({});
  for (auto* policy : {&lru, &largest}) {
    auto r = fleet.request(Phase::decoding, "vae", 8000, 10);
    policy->place(r);
    r = fleet.request(Phase::encoding, "text_encoder", 8000, 10);
    policy->place(r);
  }
  // unet 1600 + 100: kept text_encoder 300 + vae 200 -> 2200 > 2000; one eviction suffices.
  EXPECT_THAT(lru.place(fleet.request(Phase::diffusion, "unet", 2000, 100)).on_cpu, ElementsAre("vae"));
  EXPECT_THAT(largest.place(fleet.request(Phase::diffusion, "unet", 2000, 100)).on_cpu,
              ElementsAre("text_encoder"));
}

TEST(AdaptivePolicy, NeverPrefetchesComponentsThePhaseDoesNotNeed) {
  plugins::AdaptivePolicy policy({});
  Fleet fleet;
  auto p = policy.place(fleet.request(Phase::diffusion, "unet", 100000, 10));
  EXPECT_THAT(p.on_device, ElementsAre("unet"));
  EXPECT_THAT(p.reason, HasSubstr("kept none, evicted none"));
}

TEST(AdaptivePolicy, ReadsEvictionAndRejectsUnknownOrders) {
  test::FakeConfig cfg({{"eviction", std::string("lru")}});
  EXPECT_EQ(plugins::read_adaptive_settings(&cfg).eviction, plugins::Eviction::lru);
  EXPECT_EQ(cfg.read_keys(),
            (std::set<std::string>{"eviction", "headroom_mb", "auto_slicing", "auto_tiling"}));
  EXPECT_EQ(plugins::read_adaptive_settings(nullptr).eviction, plugins::Eviction::largest);
  test::FakeConfig bad({{"eviction", std::string("fifo")}});
  try {
    plugins::read_adaptive_settings(&bad);
    FAIL() << "expected an error";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_THAT(e.what(), HasSubstr("key 'eviction': expected \"largest\" or \"lru\""));
  }
}

TEST(AdaptivePolicy, SharedLibraryDescribesItselfAndPlaces) {
  auto cfg = std::make_shared<test::FakeConfig>(
      std::map<std::string, test::FakeConfig::Value>{{"eviction", std::string("lru")}});
  auto loaded = test::load_plugin("adaptive", cfg);
  EXPECT_EQ(loaded->descriptor->abi_major, sdk::kAbiMajor);
  EXPECT_EQ(loaded->descriptor->kind, sdk::PluginKind::memory_policy);
  EXPECT_STREQ(loaded->descriptor->name, "adaptive");
  auto* policy = dynamic_cast<sdk::MemoryPolicy*>(loaded->object.get());
  ASSERT_NE(policy, nullptr);
  Fleet fleet;
  fleet.components[1].location = Device::cuda;
  auto p = policy->place(fleet.request(Phase::decoding, "vae", 1000, 500));
  EXPECT_THAT(p.on_cpu, ElementsAre("unet"));
  EXPECT_EQ(cfg->read_keys(),
            (std::set<std::string>{"eviction", "headroom_mb", "auto_slicing", "auto_tiling"}));
}

}  // namespace
