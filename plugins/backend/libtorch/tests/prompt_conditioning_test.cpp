// A1111 prompts against the reference (pipeline/prompt_encoding.hpp): the runs, chunks, weights and
// conditioning that scripts/reference/a1111_prompts.py computed with transformers' CLIP on the tiny
// models (data/a1111_prompts/), within 1e-4; plain short prompts bit-identical to diffusers' way;
// a 10,000-token prompt; the UNet's cross-attention over several chunks.
#include "pipeline/prompt_encoding.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "artifacts/conditioning.hpp"
#include "common/reference.hpp"
#include "tests/network_parity.hpp"
#include "tokenizer/prompt_chunks.hpp"
#include "tokenizer/prompt_weights.hpp"

namespace ftdr::test {
namespace {

using torchbe::PromptSettings;
using torchbe::PromptSyntax;

const std::string kDataDir = FTDR_SOURCE_DIR "/plugins/backend/libtorch/tests/data/a1111_prompts/";
const PromptSettings kA1111{PromptSyntax::a1111, 20};
const PromptSettings kDiffusers{PromptSyntax::diffusers, 20};

const nlohmann::json& cases() {
  static const nlohmann::json j = nlohmann::json::parse(std::ifstream(kDataDir + "cases.json"));
  return j.at("cases");
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(PromptConditioning, ParsedRunsMatchTheReferenceScript) {
  ASSERT_GE(cases().size(), 10u);
  for (const auto& c : cases()) {
    std::vector<torchbe::PromptRun> expected;
    for (const auto& r : c.at("runs"))
      expected.push_back({r.at(0).get<std::string>(), r.at(1).get<double>()});
    EXPECT_EQ(torchbe::parse_prompt_attention(c.at("prompt").get<std::string>(), "prompt"), expected)
        << c.at("name");
  }
}

class PromptConditioningParity : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (auto ref = reference_dir())
      for (const char* m : kParityModels) load_parity_model(*ref, m);
  }
  static torchbe::CLIPTokenizer tokenizer(const ParityModel& m) {
    return torchbe::CLIPTokenizer::from_folder(m.folder.tokenizer_dir);
  }
};

void expect_chunks(const std::vector<torchbe::PromptChunk>& chunks, const torchbe::CLIPTokenizer& tok,
                   const torchbe::SafeTensorsFile& expected, const std::string& name) {
  const at::Tensor ids = expected.load(name + ".ids"), weights = expected.load(name + ".multipliers");
  ASSERT_EQ(static_cast<int64_t>(chunks.size()), ids.size(0)) << name;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    EXPECT_TRUE(at::equal(at::tensor(torchbe::encoder_ids(chunks[i], tok), at::kLong), ids[row]))
        << name << " " << i;
    EXPECT_TRUE(at::equal(at::tensor(chunks[i].multipliers, at::kDouble).to(at::kFloat), weights[row]))
        << name << " " << i;
  }
}

TEST_P(PromptConditioningParity, ChunksWeightsAndConditioningMatchA1111) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  const auto tok = tokenizer(m);
  const auto expected = torchbe::SafeTensorsFile::open(kDataDir + GetParam() + ".safetensors");
  torch::NoGradGuard no_grad;
  for (const auto& c : cases()) {
    const std::string name = c.at("name"), prompt = c.at("prompt");
    const int clip_skip = c.value("clip_skip", 0);
    const auto chunks = torchbe::chunk_prompt(tok, torchbe::parse_prompt_attention(prompt, "prompt"), 20);
    EXPECT_EQ(static_cast<int>(chunks.size()), c.at("chunks").get<int>()) << name;
    expect_chunks(chunks, tok, expected, name);
    if (c.contains("negative_prompt")) continue;  // padded: compared through encode_prompts below
    FTDR_EXPECT_CLOSE(torchbe::encode_prompt(tok, m.text_encoder, prompt, kA1111, clip_skip, "prompt"),
                      expected.load(name + ".cond"), kNetworkTolerance, GetParam() + " " + name);
  }
}

TEST_P(PromptConditioningParity, ShorterOfPromptAndNegativeIsPaddedWithTheEmptyPrompt) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  const auto tok = tokenizer(m);
  const auto expected = torchbe::SafeTensorsFile::open(kDataDir + GetParam() + ".safetensors");
  int padded = 0;
  for (const auto& c : cases()) {
    if (!c.contains("negative_prompt")) continue;
    sdk::GenerationParams p;
    p.request.prompt = c.at("prompt");
    p.request.negative_prompt = c.at("negative_prompt");
    p.request.cfg_scale = 7.5;
    const auto out = torchbe::encode_prompts(tok, m.text_encoder, p, kA1111);
    const std::string name = c.at("name");
    FTDR_EXPECT_CLOSE(out->cond, expected.load(name + ".cond"), kNetworkTolerance,
                      GetParam() + " " + name + " cond");
    FTDR_EXPECT_CLOSE(out->uncond, expected.load(name + ".uncond"), kNetworkTolerance,
                      GetParam() + " " + name + " uncond");
    ++padded;
  }
  EXPECT_EQ(padded, 2) << "one case pads the negative prompt, one the prompt";
}

TEST_P(PromptConditioningParity, PlainShortPromptsAreBitIdenticalToDiffusers) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  const auto tok = tokenizer(m);
  torch::NoGradGuard no_grad;
  for (const std::string& prompt :
       {std::string("a photo of an astronaut riding a horse on mars"), std::string("blurry, low quality"),
        std::string(""), repeat("red cat, ", 24) + "big dog house"}) {
    ASSERT_LE(tok.tokenize(prompt).size(), 75u);
    for (int clip_skip : {0, 2}) {
      const at::Tensor a1111 =
          torchbe::encode_prompt(tok, m.text_encoder, prompt, kA1111, clip_skip, "prompt");
      const at::Tensor diffusers =
          torchbe::encode_prompt(tok, m.text_encoder, prompt, kDiffusers, clip_skip, "prompt");
      EXPECT_TRUE(at::equal(a1111, diffusers))
          << GetParam() << " \"" << prompt << "\" clip_skip " << clip_skip;
    }
  }
  // diffusers' way keeps the first 75 tokens and reads brackets as text.
  const std::string long_prompt = repeat("red cat ", 60);
  EXPECT_EQ(torchbe::encode_prompt(tok, m.text_encoder, long_prompt, kDiffusers, 0, "prompt").size(1), 77);
  EXPECT_EQ(torchbe::encode_prompt(tok, m.text_encoder, long_prompt, kA1111, 0, "prompt").size(1), 154);
}

TEST_P(PromptConditioningParity, TenThousandTokenPromptIsEncodedChunkByChunk) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  const auto tok = tokenizer(m);
  torch::NoGradGuard no_grad;
  const at::Tensor z =
      torchbe::encode_prompt(tok, m.text_encoder, repeat("red ", 10000), kA1111, 0, "prompt");
  EXPECT_EQ(z.sizes(), (at::IntArrayRef{1, 134 * 77, m.folder.text_encoder.hidden_size}));
  EXPECT_TRUE(at::isfinite(z).all().item<bool>());
  // Every full chunk holds the same ids: the same hidden states.
  EXPECT_TRUE(at::equal(z.slice(1, 0, 77), z.slice(1, 77, 154)));
}

TEST_P(PromptConditioningParity, UNetCrossAttendsOverSeveralChunks) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  torch::NoGradGuard no_grad;
  const at::Tensor one = m.ref("unet.encoder_hidden_states");  // [2, 77, D]
  const at::Tensor sample = m.ref("unet.sample").slice(2, 0, 8).slice(3, 0, 8).contiguous();
  const at::Tensor t = at::scalar_tensor(457.25, at::kFloat);
  const at::Tensor out77 = m.unet->forward(sample, t, one);
  // Attention over the same keys three times gives the same softmax-weighted values.
  const at::Tensor out231 = m.unet->forward(sample, t, at::cat({one, one, one}, 1));
  EXPECT_EQ(out231.sizes(), sample.sizes());
  FTDR_EXPECT_CLOSE(out231, out77, kNetworkTolerance, GetParam() + " UNet, context repeated 3x");
  const at::Tensor other = m.unet->forward(sample, t, at::cat({one, one.flip(0)}, 1));
  EXPECT_GT(max_abs_diff(other, out77), 1e-3) << "a different second chunk changes the output";
}

INSTANTIATE_TEST_SUITE_P(ReferenceModels, PromptConditioningParity,
                         ::testing::Values("tiny-sd1", "tiny-sd2v"));

}  // namespace
}  // namespace ftdr::test
