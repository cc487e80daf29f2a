// SDXL's networks against diffusers 0.31 / transformers 4.30 (tests/data/tiny-sdxl, written by
// scripts/reference/sdxl.py): both tokenizers, both text encoders (hidden states, pooled and
// projected outputs), SDXL's conditioning (encode_prompt), one UNet call with the text_time added
// embedding and per-level transformer depth, one VAE decode. float32, within 1e-4.
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include <iostream>

#include "ftdr/sdk/error.hpp"
#include "sdxl_test_support.hpp"

namespace ftdr::test {
namespace {

// Single float32 network calls (the tolerance of the SD 1.x/2.x network parity tests).
constexpr double kNetworkTolerance = 1e-4;

// Asserts equal shapes and max |actual - expected| <= tol; prints the figure.
#define SDXL_EXPECT_CLOSE(actual, expected, tol, what)                        \
  do {                                                                        \
    const at::Tensor sdxl_a_ = (actual), sdxl_e_ = (expected);                \
    ASSERT_EQ(sdxl_a_.sizes(), sdxl_e_.sizes()) << (what);                    \
    const double sdxl_d_ = ::ftdr::test::max_abs_diff(sdxl_a_, sdxl_e_);      \
    std::cout << "[ max |diff| ] " << (what) << ": " << sdxl_d_ << std::endl; \
    EXPECT_LE(sdxl_d_, (tol)) << (what);                                      \
  } while (0)

using namespace torchbe;

class SdxlNetworks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    at::set_num_threads(2);
    tiny_sdxl();
  }
  TinySdxl& m = tiny_sdxl();
};

std::vector<int64_t> row(const at::Tensor& ids, int64_t i) {
  const at::Tensor r = ids[i].contiguous();
  return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

TEST_F(SdxlNetworks, BothTokenizersGiveDiffusersIds) {
  const auto& prompts = m.ref.ref["prompts"];
  const at::Tensor ids_1 = m.ref.tensor("text_encoder.input_ids"),
                   ids_2 = m.ref.tensor("text_encoder_2.input_ids");
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::string text = prompts[i].get<std::string>();
    EXPECT_EQ(m.model.tokenizer.encode(text), row(ids_1, static_cast<int64_t>(i))) << text;
    EXPECT_EQ(m.model.tokenizer_2->encode(text), row(ids_2, static_cast<int64_t>(i))) << text;
  }
  EXPECT_EQ(m.model.tokenizer_2->pad_id(), 0);  // "!", as SDXL's tokenizer_2
  EXPECT_EQ(m.model.tokenizer.pad_id(), 999);   // <|endoftext|> of the 1000-entry vocabulary
}

TEST_F(SdxlNetworks, TextEncoderHiddenStatesAndPooledMatchTransformers) {
  c10::InferenceMode inference;
  const at::Tensor ids_1 = m.ref.tensor("text_encoder.input_ids");
  const std::vector<at::Tensor> hs = m.model.text_encoder->hidden_states(ids_1.slice(0, 0, 2));
  const at::Tensor ref_hs = m.ref.tensor("text_encoder.hidden_states");
  ASSERT_EQ(static_cast<int64_t>(hs.size()), ref_hs.size(0));
  for (size_t l = 0; l < hs.size(); ++l)
    SDXL_EXPECT_CLOSE(hs[l], ref_hs[static_cast<int64_t>(l)], kNetworkTolerance,
                      "text_encoder hidden_states[" + std::to_string(l) + "]");
  SDXL_EXPECT_CLOSE(m.model.text_encoder->forward(ids_1), m.ref.tensor("text_encoder.last_hidden_state"),
                    kNetworkTolerance, "text_encoder last_hidden_state");
  SDXL_EXPECT_CLOSE(m.model.text_encoder->pooled(ids_1), m.ref.tensor("text_encoder.pooler_output"),
                    kNetworkTolerance, "text_encoder pooler_output");
}

TEST_F(SdxlNetworks, TextEncoder2HiddenStatesAndTextEmbedsMatchTransformers) {
  c10::InferenceMode inference;
  const at::Tensor ids_2 = m.ref.tensor("text_encoder_2.input_ids");
  const std::vector<at::Tensor> hs = m.model.text_encoder_2->hidden_states(ids_2.slice(0, 0, 2));
  const at::Tensor ref_hs = m.ref.tensor("text_encoder_2.hidden_states");
  ASSERT_EQ(static_cast<int64_t>(hs.size()), ref_hs.size(0));
  for (size_t l = 0; l < hs.size(); ++l)
    SDXL_EXPECT_CLOSE(hs[l], ref_hs[static_cast<int64_t>(l)], kNetworkTolerance,
                      "text_encoder_2 hidden_states[" + std::to_string(l) + "]");
  SDXL_EXPECT_CLOSE(m.model.text_encoder_2->forward(ids_2), m.ref.tensor("text_encoder_2.last_hidden_state"),
                    kNetworkTolerance, "text_encoder_2 last_hidden_state");
  const at::Tensor embeds = m.model.text_encoder_2->text_embeds(ids_2);
  EXPECT_EQ(embeds.size(1), 40);  // projection_dim, not the width 48
  SDXL_EXPECT_CLOSE(embeds, m.ref.tensor("text_encoder_2.text_embeds"), kNetworkTolerance,
                    "text_encoder_2 text_embeds");
}

TEST_F(SdxlNetworks, ConditioningEqualsDiffusersEncodePrompt) {
  c10::InferenceMode inference;
  const PromptSettings diffusers_syntax;
  for (const auto& [which, text] : {std::pair{"prompt", m.ref.ref["prompts"][0].get<std::string>()},
                                    {"negative_prompt", "blurry, low quality"},
                                    {"empty", ""}}) {
    const SdxlEmbeddings e = encode_prompt_sdxl(m.encoders(), text, diffusers_syntax, 0, "prompt");
    const std::string key = std::string("pipe.") + which;
    EXPECT_EQ(e.embeddings.sizes(), (at::IntArrayRef{1, 77, 80}));
    SDXL_EXPECT_CLOSE(e.embeddings, m.ref.tensor(key + ".prompt_embeds"), kNetworkTolerance,
                      key + " embeddings");
    SDXL_EXPECT_CLOSE(e.pooled, m.ref.tensor(key + ".pooled_prompt_embeds"), kNetworkTolerance,
                      key + " pooled");
  }
}

// A1111's syntax: an unweighted short prompt is one chunk with the same ids, so the same
// conditioning; emphasis changes the embeddings (each encoder's own mean kept) but not the pooled
// embedding (taken before the weights); a long prompt is two 77-token chunks, pooled from the first.
TEST_F(SdxlNetworks, A1111SyntaxChunksAndWeightsEachEncoder) {
  c10::InferenceMode inference;
  const PromptSettings a1111{PromptSyntax::a1111, 20};
  const std::string text = m.ref.ref["prompts"][0].get<std::string>();
  const SdxlEmbeddings plain = encode_prompt_sdxl(m.encoders(), text, a1111, 0, "prompt");
  SDXL_EXPECT_CLOSE(plain.embeddings, m.ref.tensor("pipe.prompt.prompt_embeds"), kNetworkTolerance,
                    "a1111 plain embeddings");
  SDXL_EXPECT_CLOSE(plain.pooled, m.ref.tensor("pipe.prompt.pooled_prompt_embeds"), kNetworkTolerance,
                    "a1111 plain pooled");
  const SdxlEmbeddings weighted =
      encode_prompt_sdxl(m.encoders(), "a (photo:1.5) of an astronaut", a1111, 0, "prompt");
  const SdxlEmbeddings unweighted =
      encode_prompt_sdxl(m.encoders(), "a photo of an astronaut", a1111, 0, "prompt");
  EXPECT_GT(max_abs_diff(weighted.embeddings, unweighted.embeddings), 1e-3);
  EXPECT_TRUE(at::equal(weighted.pooled, unweighted.pooled));
  std::string longer;
  for (int i = 0; i < 40; ++i) longer += "red cat, ";
  const int64_t tokens = static_cast<int64_t>(m.model.tokenizer.tokenize(longer).size());
  ASSERT_GT(tokens, 75);
  const PromptSettings cut_anywhere{PromptSyntax::a1111, 0};  // chunks of exactly 75 tokens
  const SdxlEmbeddings chunks = encode_prompt_sdxl(m.encoders(), longer, cut_anywhere, 0, "prompt");
  EXPECT_EQ(chunks.embeddings.sizes(), (at::IntArrayRef{1, 77 * ((tokens + 74) / 75), 80}));
  const SdxlEmbeddings first = encode_prompt_sdxl(m.encoders(), longer, PromptSettings{}, 0, "prompt");
  EXPECT_TRUE(at::equal(chunks.pooled, first.pooled));  // the first chunk is the truncated prompt
}

TEST_F(SdxlNetworks, UNetWithTextTimeEmbeddingMatchesDiffusers) {
  c10::InferenceMode inference;
  EXPECT_EQ(m.model.unet->config().transformer_layers_per_block, (std::vector<int64_t>{1, 2}));
  const UNetAddedConditions added{m.ref.tensor("unet.text_embeds"), m.ref.tensor("unet.time_ids")};
  const at::Tensor sample = m.ref.tensor("unet.sample"), ehs = m.ref.tensor("unet.encoder_hidden_states");
  for (const auto& [name, t] : {std::pair{"out_t999", at::scalar_tensor(999, at::kLong)},
                                {"out_t457_25", at::scalar_tensor(457.25, at::kFloat)}}) {
    const at::Tensor out = m.model.unet->forward(sample, t, ehs, added);
    SDXL_EXPECT_CLOSE(out, m.ref.tensor(std::string("unet.") + name), kNetworkTolerance,
                      std::string("unet ") + name);
  }
  // The added embedding is really used: other time ids change the output.
  const UNetAddedConditions other{added.text_embeds, added.time_ids.flip(0)};
  EXPECT_GT(max_abs_diff(m.model.unet->forward(sample, at::scalar_tensor(999, at::kLong), ehs, other),
                         m.ref.tensor("unet.out_t999")),
            1e-3);
}

TEST_F(SdxlNetworks, UNetWithoutAddedConditionsIsAnError) {
  c10::InferenceMode inference;
  try {
    m.model.unet->forward(m.ref.tensor("unet.sample"), at::scalar_tensor(999, at::kLong),
                          m.ref.tensor("unet.encoder_hidden_states"));
    FAIL() << "no error";
  } catch (const sdk::Error& e) {
    EXPECT_NE(std::string(e.what()).find("text_time needs text_embeds and time_ids"), std::string::npos)
        << e.what();
  }
}

TEST_F(SdxlNetworks, VaeDecodeWithSdxlScalingFactorMatchesDiffusers) {
  c10::InferenceMode inference;
  EXPECT_EQ(m.model.folder.vae.scaling_factor, 0.13025);
  EXPECT_TRUE(m.model.folder.vae.force_upcast);
  const at::Tensor input = m.ref.tensor("vae.latents") / m.model.folder.vae.scaling_factor;
  SDXL_EXPECT_CLOSE(input, m.ref.tensor("vae.decode_input"), 1e-6, "vae decode input");
  SDXL_EXPECT_CLOSE(m.model.vae->decode(input), m.ref.tensor("vae.decode_output"), kNetworkTolerance,
                    "vae decode");
}

}  // namespace
}  // namespace ftdr::test
