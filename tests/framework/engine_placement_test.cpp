// ExecutionEngine with a memory policy and a tiling strategy: what it asks and what it carries out.
#include <gtest/gtest.h>

#include <algorithm>

#include "framework/scripted_backend.hpp"
#include "ftdr/framework/engine/execution_engine.hpp"

using namespace ftdr::framework;
using ftdr::sdk::Phase;
using ftdr::test::ScriptedBackend;

namespace engine_placement_test {
namespace {

// Puts only the needed component on the device; switches VAE tiling on for decoding.
class RecordingPolicy final : public ftdr::sdk::MemoryPolicy {
 public:
  std::vector<ftdr::sdk::PlacementRequest> requests;
  bool forget_needed = false;
  ftdr::sdk::Placement place(const ftdr::sdk::PlacementRequest& r) override {
    requests.push_back(r);
    ftdr::sdk::Placement p;
    p.options = r.options;
    for (const auto& c : r.components) {
      const bool needed = c.name == r.needed.at(0);
      if (needed && !forget_needed) p.on_device.push_back(c.name);
      if (!needed) p.on_cpu.push_back(c.name);
    }
    if (r.next == Phase::decoding) p.options.vae_tiling = true;
    p.reason = "only " + r.needed.at(0);
    return p;
  }
};

class FourTiles final : public ftdr::sdk::TilingStrategy {
 public:
  std::vector<ftdr::sdk::TileRequest> requests;
  ftdr::sdk::TilePlan plan(const ftdr::sdk::TileRequest& r) override {
    requests.push_back(r);
    ftdr::sdk::TilePlan p;
    p.scale = r.scale;
    p.tiles.resize(4);
    return p;
  }
};

ftdr::sdk::GenerationRequest request() {
  ftdr::sdk::GenerationRequest r;
  r.prompt = "p";
  r.width = 128;
  r.height = 64;
  r.steps = 2;
  return r;
}

TEST(EnginePlacement, AsksThePolicyBeforeEachPhaseAndCarriesItOut) {
  auto backend = std::make_shared<ScriptedBackend>();
  auto policy = std::make_shared<RecordingPolicy>();
  auto tiling = std::make_shared<FourTiles>();
  EngineConfig cfg;
  cfg.budget_bytes = 12345;
  ExecutionEngine engine(EnginePlugins{backend, policy, nullptr, tiling}, cfg);
  Job job(1, request(), ftdr::sdk::Priority::normal);
  AttemptOutcome o = engine.run_attempt(job);
  ASSERT_EQ(o.state, ExecutionState::completed);

  ASSERT_EQ(policy->requests.size(), 3u);
  EXPECT_EQ(policy->requests[0].next, Phase::encoding);
  EXPECT_EQ(policy->requests[0].needed, std::vector<std::string>{"text_encoder"});
  EXPECT_EQ(policy->requests[1].needed, std::vector<std::string>{"unet"});
  EXPECT_EQ(policy->requests[2].needed, std::vector<std::string>{"vae"});
  EXPECT_EQ(policy->requests[1].budget_bytes, 12345u);
  EXPECT_EQ(policy->requests[1].estimated_activation_bytes, 1000u);
  EXPECT_EQ(policy->requests[1].estimated_activation_bytes_sliced, 100u);
  EXPECT_EQ(policy->requests[1].components.at(0).location, ftdr::sdk::Device::cuda)
      << "text encoder was placed";

  EXPECT_EQ(backend->calls(),
            (std::vector<std::string>{
                "place(text_encoder,cuda)", "encode", "place(text_encoder,cpu)", "release_cached_memory",
                "place(unet,cuda)", "denoise(first=0,batch=1,from=0)", "place(unet,cpu)",
                "release_cached_memory", "place(vae,cuda)", "decode(first=0,batch=1,tiles=4)"}));
  ASSERT_EQ(tiling->requests.size(), 1u);
  EXPECT_EQ(tiling->requests[0].latent_height, 8);
  EXPECT_EQ(tiling->requests[0].latent_width, 16);
  EXPECT_EQ(tiling->requests[0].scale, 8);
  EXPECT_EQ(tiling->requests[0].memory_hint_bytes, 12345u);
  EXPECT_TRUE(o.result->final_params.options.vae_tiling);
  ASSERT_EQ(o.result->metrics.phases.size(), 4u);
  EXPECT_EQ(o.result->metrics.phases[3].placement_reason, "only vae");
}

// Puts exactly the needed components on the device.
class NeededOnly final : public ftdr::sdk::MemoryPolicy {
 public:
  std::vector<ftdr::sdk::PlacementRequest> requests;
  ftdr::sdk::Placement place(const ftdr::sdk::PlacementRequest& r) override {
    requests.push_back(r);
    ftdr::sdk::Placement p;
    p.options = r.options;
    p.on_device = r.needed;
    for (const auto& c : r.components)
      if (std::find(r.needed.begin(), r.needed.end(), c.name) == r.needed.end()) p.on_cpu.push_back(c.name);
    return p;
  }
};

// SDXL: both text encoders are needed for encoding, and only then.
TEST(EnginePlacement, EncodingNeedsEveryTextEncoder) {
  auto backend = std::make_shared<ScriptedBackend>();
  backend->add_component("text_encoder_2", 200);
  auto policy = std::make_shared<NeededOnly>();
  ExecutionEngine engine(EnginePlugins{backend, policy, nullptr, nullptr});
  Job job(3, request(), ftdr::sdk::Priority::normal);
  ASSERT_EQ(engine.run_attempt(job).state, ExecutionState::completed);
  ASSERT_EQ(policy->requests.size(), 3u);
  EXPECT_EQ(policy->requests[0].needed, (std::vector<std::string>{"text_encoder", "text_encoder_2"}));
  EXPECT_EQ(policy->requests[1].needed, std::vector<std::string>{"unet"});
  EXPECT_EQ(backend->count("place(text_encoder_2,cuda)"), 1);
  EXPECT_EQ(backend->count("place(text_encoder_2,cpu)"), 1);
  const auto calls = backend->calls();
  const auto encode = std::find(calls.begin(), calls.end(), "encode");
  EXPECT_LT(std::find(calls.begin(), calls.end(), "place(text_encoder_2,cuda)"), encode);
  EXPECT_GT(std::find(calls.begin(), calls.end(), "place(text_encoder_2,cpu)"), encode);
}

TEST(EnginePlacement, APolicyLeavingTheNeededComponentOffIsAPluginError) {
  auto backend = std::make_shared<ScriptedBackend>();
  auto policy = std::make_shared<RecordingPolicy>();
  policy->forget_needed = true;
  ExecutionEngine engine(EnginePlugins{backend, policy, nullptr, nullptr});
  Job job(2, request(), ftdr::sdk::Priority::normal);
  AttemptOutcome o = engine.run_attempt(job);
  ASSERT_EQ(o.state, ExecutionState::failed);
  EXPECT_EQ(o.result->error_kind, ftdr::sdk::ErrorKind::plugin_error);
  EXPECT_NE(o.result->error_message.find("'text_encoder' off the device"), std::string::npos)
      << o.result->error_message;
  EXPECT_EQ(backend->count("encode"), 0);
}

TEST(EnginePlacement, ConstructorRejectsBadConfig) {
  EXPECT_THROW(ExecutionEngine(EnginePlugins{}), ftdr::sdk::Error);
  EngineConfig cfg;
  cfg.max_attempts = 0;
  EXPECT_THROW(
      ExecutionEngine(EnginePlugins{std::make_shared<ScriptedBackend>(), nullptr, nullptr, nullptr}, cfg),
      ftdr::sdk::Error);
}

}  // namespace
}  // namespace engine_placement_test
