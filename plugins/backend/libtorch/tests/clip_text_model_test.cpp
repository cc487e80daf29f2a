// CLIP text encoder parity (clip/clip_text_model.hpp) against transformers' CLIPTextModel.
#include "clip/clip_text_model.hpp"

#include <gtest/gtest.h>

#include "common/reference.hpp"
#include "tests/network_parity.hpp"

namespace {

using ftdr::test::kNetworkTolerance;
using ftdr::test::load_parity_model;

class ClipTextModelParity : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (auto ref = ftdr::test::reference_dir())
      for (const char* m : ftdr::test::kParityModels) load_parity_model(*ref, m);
  }
};

TEST_P(ClipTextModelParity, LastHiddenStateAndPooled) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  torch::NoGradGuard no_grad;
  const at::Tensor ids = m.ref("tokenizer.input_ids");
  FTDR_EXPECT_CLOSE(m.text_encoder->forward(ids), m.ref("text_encoder.last_hidden_state"), kNetworkTolerance,
                    GetParam() + " last_hidden_state");
  FTDR_EXPECT_CLOSE(m.text_encoder->pooled(ids), m.ref("text_encoder.pooler_output"), kNetworkTolerance,
                    GetParam() + " pooler_output");
}

TEST_P(ClipTextModelParity, HiddenStatesAndClipSkip) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  torch::NoGradGuard no_grad;
  const at::Tensor ids = m.ref("tokenizer.input_ids").slice(0, 0, 4);
  const at::Tensor expected = m.ref("text_encoder.hidden_states");
  const auto states = m.text_encoder->hidden_states(ids);
  ASSERT_EQ(static_cast<int64_t>(states.size()), expected.size(0));
  for (size_t i = 0; i < states.size(); ++i)
    FTDR_EXPECT_CLOSE(states[i], expected[static_cast<int64_t>(i)], kNetworkTolerance,
                      GetParam() + " hidden_states[" + std::to_string(i) + "]");
  // clip_skip 2 = penultimate layer's output through final_layer_norm.
  const int64_t layers = m.folder.text_encoder.num_hidden_layers;
  const at::Tensor penultimate = m.text_encoder->text_model->final_layer_norm(expected[layers - 1]);
  FTDR_EXPECT_CLOSE(m.text_encoder->forward(ids, 2), penultimate, kNetworkTolerance,
                    GetParam() + " clip_skip 2");
  EXPECT_TRUE(at::equal(m.text_encoder->forward(ids, 1), m.text_encoder->forward(ids, 0)));
  EXPECT_THROW(m.text_encoder->forward(ids, static_cast<int>(layers) + 1), ftdr::sdk::Error);
}

TEST_P(ClipTextModelParity, SlicedAttentionEqualsNaive) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  torch::NoGradGuard no_grad;
  const at::Tensor ids = m.ref("tokenizer.input_ids").slice(0, 0, 3);
  const at::Tensor naive = m.text_encoder->forward(ids);
  m.text_encoder->set_attention({ftdr::torchbe::AttentionMode::sliced, 10});
  const at::Tensor sliced = m.text_encoder->forward(ids);
  m.text_encoder->set_attention({});
  FTDR_EXPECT_CLOSE(sliced, naive, ftdr::test::kSlicedTolerance,
                    GetParam() + " text encoder sliced vs naive");
}

INSTANTIATE_TEST_SUITE_P(ReferenceModels, ClipTextModelParity, ::testing::Values("tiny-sd1", "tiny-sd2v"));

TEST(ClipTextModel, ParameterNamesMatchTransformers) {
  ftdr::torchbe::CLIPTextConfig cfg;
  cfg.hidden_size = 8;
  cfg.num_attention_heads = 2;
  cfg.num_hidden_layers = 2;
  cfg.intermediate_size = 16;
  cfg.vocab_size = 10;
  ftdr::torchbe::CLIPTextModel te(cfg);
  auto params = te->named_parameters();
  for (const char* key :
       {"text_model.embeddings.token_embedding.weight", "text_model.embeddings.position_embedding.weight",
        "text_model.encoder.layers.1.self_attn.q_proj.weight", "text_model.encoder.layers.0.mlp.fc2.bias",
        "text_model.encoder.layers.1.layer_norm2.weight", "text_model.final_layer_norm.bias"})
    EXPECT_TRUE(params.contains(key)) << key;
  EXPECT_TRUE(te->named_buffers().contains("text_model.embeddings.position_ids"));
}

}  // namespace
