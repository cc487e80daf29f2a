// [backend.libtorch] prompt_syntax through TorchBackend: the keys and their errors, validate() on
// A1111 syntax, a plain prompt giving diffusers' image either way, a long prompt end to end with its
// negative prompt padded, conditioning of several chunks saved and loaded, and a foreign
// conditioning whose halves differ refused by denoise.
#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>

#include "adapter/backend_config.hpp"
#include "adapter/torch_backend.hpp"
#include "artifacts/artifact_io.hpp"
#include "artifacts/conditioning.hpp"
#include "backend_test_support.hpp"
#include "common/reference.hpp"

namespace ftdr::test {
namespace {

using torchbe::ConditioningArtifact;
using torchbe::TorchBackend;

sdk::PluginContext a1111_context() {
  return context_with(std::make_shared<MapConfig>(
      std::map<std::string, MapConfig::Value>{{"device", std::string("cpu")},
                                              {"attention", std::string("naive")},
                                              {"prompt_syntax", std::string("a1111")}}));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const sdk::Error& e) {
    return std::string(sdk::to_string(e.kind())) + ": " + e.what();
  }
  return "no error";
}

TEST(PromptSyntaxConfig, DefaultsKeepDiffusersBehaviour) {
  const auto cfg = torchbe::parse_backend_config(MapConfig(), false);
  EXPECT_EQ(cfg.prompt.syntax, torchbe::PromptSyntax::diffusers);
  EXPECT_EQ(cfg.prompt.comma_backtrack, 20);
  const auto a1111 = torchbe::parse_backend_config(
      MapConfig({{"prompt_syntax", std::string("a1111")}, {"prompt_comma_backtrack", std::int64_t{0}}}),
      false);
  EXPECT_EQ(a1111.prompt.syntax, torchbe::PromptSyntax::a1111);
  EXPECT_EQ(a1111.prompt.comma_backtrack, 0);
  const auto lines = TorchBackend(a1111_context()).diagnostics();
  EXPECT_NE(std::find(lines.begin(), lines.end(), "prompt_syntax: a1111 (comma backtrack 20)"), lines.end())
      << ::testing::PrintToString(lines);
}

TEST(PromptSyntaxConfig, BadValuesAreRejectedNamingTheKey) {
  const auto parse = [](std::map<std::string, MapConfig::Value> v) {
    return [v] { torchbe::parse_backend_config(MapConfig(v), false); };
  };
  EXPECT_EQ(error_of(parse({{"prompt_syntax", std::string("comfy")}})),
            "invalid_request: test.toml: [backend.libtorch] key 'prompt_syntax': expected \"diffusers\" or "
            "\"a1111\"");
  for (std::int64_t bad : {-1, 75})
    EXPECT_EQ(
        error_of(parse({{"prompt_comma_backtrack", bad}})),
        "invalid_request: test.toml: [backend.libtorch] key 'prompt_comma_backtrack': expected an integer in "
        "0..74 (0 = never)");
}

class PromptBackend : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto root = reference_dir();
    if (!root) return;
    run_ = std::make_unique<ReferenceRun>(reference_run(*root, "tiny-sd1", "pipe.pndm.s4"));
    backend_ = std::make_unique<TorchBackend>(a1111_context());
    backend_->load(run_->model_dir.string());
  }
  static void TearDownTestSuite() {
    backend_.reset();
    run_.reset();
  }
  void SetUp() override {
    if (!backend_) GTEST_SKIP() << "reference data not found at " << reference_dir_candidate();
  }

  static std::vector<sdk::Image> generate(const sdk::GenerationParams& p) {
    backend_->validate(p);
    auto cond = backend_->encode(p);
    RecordingObserver observer;
    auto latents = backend_->denoise(p, *cond, nullptr, observer);
    return backend_->decode(p, *latents, nullptr);
  }

  static inline std::unique_ptr<ReferenceRun> run_;
  static inline std::unique_ptr<TorchBackend> backend_;
};

TEST_F(PromptBackend, PlainPromptGivesDiffusersImage) {
  ASSERT_EQ(run_->params.request.prompt.find_first_of("()[]\\:"), std::string::npos);
  const auto images = generate(run_->params);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_LE(max_rgb8_diff(images[0], run_->image), 1) << "a1111 syntax on a plain prompt changes nothing";
}

TEST_F(PromptBackend, ValidateRejectsUnreadableWeights) {
  sdk::GenerationParams p = run_->params;
  p.request.negative_prompt = "(blurry:1.2.3)";
  EXPECT_EQ(error_of([&] { backend_->validate(p); }),
            "invalid_request: negative_prompt: emphasis weight \"1.2.3\" is not a number (expected e.g. "
            "\"(word:1.3)\")");
  TorchBackend diffusers(cpu_context());
  diffusers.load(run_->model_dir.string());
  EXPECT_EQ(error_of([&] { diffusers.validate(p); }), "no error") << "plain text in diffusers' syntax";
}

TEST_F(PromptBackend, LongPromptRunsEndToEndWithItsNegativePromptPadded) {
  sdk::GenerationParams p = run_->params;
  p.request.steps = 2;
  p.request.prompt.clear();
  for (int i = 0; i < 40; ++i) p.request.prompt += "a (red:1.2) cat on a [blue] mat, ";
  auto cond = backend_->encode(p);
  const auto& c = dynamic_cast<const ConditioningArtifact&>(*cond);
  const int64_t chunks = c.cond.size(1) / 77;
  EXPECT_GE(chunks, 4);
  EXPECT_EQ(c.cond.size(1), chunks * 77);
  EXPECT_EQ(c.uncond.sizes(), c.cond.sizes()) << "negative prompt padded to the prompt's chunks";
  RecordingObserver observer;
  auto latents = backend_->denoise(p, *cond, nullptr, observer);
  const auto images = backend_->decode(p, *latents, nullptr);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].rgb.size(), static_cast<std::size_t>(p.width * p.height * 3));
}

// The UNet attends to 77 positions per chunk: the diffusion estimate grows with the longer of the
// prompt and the negative prompt (cross-attention scores), and nothing else does.
TEST_F(PromptBackend, DiffusionEstimateCountsEveryChunkOfTheLongerPrompt) {
  sdk::GenerationParams p = run_->params;
  p.options.attention = sdk::AttentionMode::naive;
  p.request.prompt = "a cat";
  p.request.negative_prompt = "";
  const auto one = backend_->estimate_activation_bytes(sdk::Phase::diffusion, p);
  auto three = p;
  three.request.prompt = "a cat BREAK a dog BREAK a bird";
  const auto three_bytes = backend_->estimate_activation_bytes(sdk::Phase::diffusion, three);
  EXPECT_GT(three_bytes, one);
  auto negative = p;
  negative.request.negative_prompt = three.request.prompt;
  EXPECT_EQ(backend_->estimate_activation_bytes(sdk::Phase::diffusion, negative), three_bytes);
  auto four = p;
  four.request.prompt = "a BREAK b BREAK c BREAK d";
  EXPECT_GT(backend_->estimate_activation_bytes(sdk::Phase::diffusion, four), three_bytes);
  EXPECT_EQ(backend_->estimate_activation_bytes(sdk::Phase::encoding, four),
            backend_->estimate_activation_bytes(sdk::Phase::encoding, p))
      << "the text encoder runs one chunk at a time";
  auto unparsable = p;
  unparsable.request.prompt = "(a cat:";  // validate() refuses it; the estimate stays that of one chunk
  EXPECT_NO_THROW(backend_->estimate_activation_bytes(sdk::Phase::diffusion, unparsable));
}

TEST_F(PromptBackend, ConditioningOfSeveralChunksIsSavedAndLoadedBitForBit) {
  sdk::GenerationParams p = run_->params;
  p.request.prompt = "a cat BREAK a dog BREAK a (bird:1.3)";
  auto cond = backend_->encode(p);
  const auto& c = dynamic_cast<const ConditioningArtifact&>(*cond);
  ASSERT_EQ(c.cond.size(1), 3 * 77);
  const auto path =
      std::filesystem::temp_directory_path() / ("ftdr_prompt_cond_" + std::to_string(::getpid()));
  backend_->save_artifact(*cond, path.string());
  auto loaded = backend_->load_artifact(path.string());
  std::filesystem::remove(path);
  const auto& l = dynamic_cast<const ConditioningArtifact&>(*loaded);
  EXPECT_TRUE(at::equal(l.cond, c.cond));
  EXPECT_TRUE(at::equal(l.uncond, c.uncond));
}

TEST_F(PromptBackend, DenoiseRefusesPromptAndNegativeOfDifferentLengths) {
  sdk::GenerationParams p = run_->params;
  auto cond = backend_->encode(p);
  auto odd = std::make_shared<ConditioningArtifact>(dynamic_cast<const ConditioningArtifact&>(*cond));
  odd->cond = at::cat({odd->cond, odd->cond}, 1);
  RecordingObserver observer;
  EXPECT_EQ(error_of([&] { backend_->denoise(p, *odd, nullptr, observer); }),
            "invalid_request: conditioning: prompt embeddings [1, 154, 32] and negative prompt embeddings "
            "[1, 77, 32] differ in shape; encode again");
}

}  // namespace
}  // namespace ftdr::test
