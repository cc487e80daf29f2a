// UNet parity (unet/unet_2d_condition_model.hpp) against diffusers' UNet2DConditionModel.
#include "unet/unet_2d_condition_model.hpp"

#include <gtest/gtest.h>

#include "common/reference.hpp"
#include "tests/network_parity.hpp"

namespace {

using ftdr::test::kNetworkTolerance;
using ftdr::test::load_parity_model;

class UNetParity : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (auto ref = ftdr::test::reference_dir())
      for (const char* m : ftdr::test::kParityModels) load_parity_model(*ref, m);
  }
};

TEST_P(UNetParity, OutputsForIntegerFractionalAndPerSampleTimesteps) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  torch::NoGradGuard no_grad;
  const at::Tensor sample = m.ref("unet.sample"), ehs = m.ref("unet.encoder_hidden_states");
  const std::pair<const char*, at::Tensor> cases[] = {
      {"unet.out_t999", at::scalar_tensor(999, at::kLong)},
      {"unet.out_t457_25", at::scalar_tensor(457.25, at::kFloat)},
      {"unet.out_t1", at::scalar_tensor(1, at::kLong)},
      {"unet.out_tvec", at::tensor({999.0f, 457.25f})},
  };
  for (const auto& [key, t] : cases)
    FTDR_EXPECT_CLOSE(m.unet->forward(sample, t, ehs), m.ref(key), kNetworkTolerance, GetParam() + " " + key);
}

TEST_P(UNetParity, SlicedAttentionEqualsNaive) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  torch::NoGradGuard no_grad;
  const at::Tensor sample = m.ref("unet.sample").slice(0, 0, 1),
                   ehs = m.ref("unet.encoder_hidden_states").slice(0, 0, 1);
  const at::Tensor t = at::scalar_tensor(457.25, at::kFloat);
  const at::Tensor naive = m.unet->forward(sample, t, ehs);
  m.unet->set_attention(
      {ftdr::torchbe::AttentionMode::sliced, 100});  // 1024 / 256 query rows: several slices
  const at::Tensor sliced = m.unet->forward(sample, t, ehs);
  m.unet->set_attention({});
  FTDR_EXPECT_CLOSE(sliced, naive, ftdr::test::kSlicedTolerance, GetParam() + " unet sliced vs naive");
}

// Odd latent sizes: the upsampler follows the skip connection's size, as diffusers does.
TEST_P(UNetParity, OddLatentSizeKeepsShape) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  torch::NoGradGuard no_grad;
  const at::Tensor sample = at::randn({1, 4, 9, 13});
  const at::Tensor out = m.unet->forward(sample, at::scalar_tensor(10, at::kLong),
                                         m.ref("unet.encoder_hidden_states").slice(0, 0, 1));
  EXPECT_EQ(out.sizes(), sample.sizes());
}

INSTANTIATE_TEST_SUITE_P(ReferenceModels, UNetParity, ::testing::Values("tiny-sd1", "tiny-sd2v"));

TEST(UNet2DConditionModel, ParameterNamesMatchDiffusers) {
  ftdr::torchbe::UNetConfig cfg;
  cfg.block_out_channels = {32, 64};
  cfg.layers_per_block = {1, 1};
  cfg.attention_heads = {2, 2};
  cfg.cross_attention_dim = 16;
  cfg.down_block_types = {"CrossAttnDownBlock2D", "DownBlock2D"};
  cfg.up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D"};
  ftdr::torchbe::UNet2DConditionModel unet(cfg);
  auto params = unet->named_parameters();
  for (const char* key :
       {"time_embedding.linear_1.weight", "conv_in.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0.bias",
        "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight",
        "down_blocks.0.attentions.0.proj_in.weight", "down_blocks.0.downsamplers.0.conv.weight",
        "mid_block.attentions.0.norm.weight", "mid_block.resnets.1.time_emb_proj.weight",
        "up_blocks.0.resnets.1.conv_shortcut.weight", "up_blocks.0.upsamplers.0.conv.bias",
        "up_blocks.1.attentions.1.proj_out.bias", "conv_norm_out.weight", "conv_out.bias"})
    EXPECT_TRUE(params.contains(key)) << key;
  EXPECT_FALSE(params.contains("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias"));
}

}  // namespace
