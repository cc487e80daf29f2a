// VAE parity (vae/autoencoder_kl.hpp) against diffusers' AutoencoderKL.
#include "vae/autoencoder_kl.hpp"

#include <gtest/gtest.h>

#include "common/reference.hpp"
#include "tests/network_parity.hpp"

namespace {

using ftdr::test::kNetworkTolerance;
using ftdr::test::load_parity_model;

class AutoencoderKLParity : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (auto ref = ftdr::test::reference_dir())
      for (const char* m : ftdr::test::kParityModels) load_parity_model(*ref, m);
  }
};

TEST_P(AutoencoderKLParity, Decode) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  torch::NoGradGuard no_grad;
  // decode_input is latents / scaling_factor exactly as diffusers computed it.
  FTDR_EXPECT_CLOSE(m.ref("vae.latents") / m.folder.vae.scaling_factor, m.ref("vae.decode_input"), 1e-6,
                    GetParam() + " decode_input");
  FTDR_EXPECT_CLOSE(m.vae->decode(m.ref("vae.decode_input")), m.ref("vae.decode_output"), kNetworkTolerance,
                    GetParam() + " vae.decode_output");
}

TEST_P(AutoencoderKLParity, Encode) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  torch::NoGradGuard no_grad;
  auto [mean, logvar] = m.vae->encode(m.ref("vae.encode_input"));
  FTDR_EXPECT_CLOSE(mean, m.ref("vae.encode_mean"), kNetworkTolerance, GetParam() + " vae.encode_mean");
  FTDR_EXPECT_CLOSE(logvar, m.ref("vae.encode_logvar"), kNetworkTolerance, GetParam() + " vae.encode_logvar");
}

TEST_P(AutoencoderKLParity, SlicedAttentionEqualsNaive) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, GetParam());
  torch::NoGradGuard no_grad;
  const at::Tensor z = m.ref("vae.decode_input");
  const at::Tensor naive = m.vae->decode(z);
  m.vae->set_attention({ftdr::torchbe::AttentionMode::sliced, 0});
  const at::Tensor sliced = m.vae->decode(z);
  m.vae->set_attention({});
  FTDR_EXPECT_CLOSE(sliced, naive, ftdr::test::kSlicedTolerance, GetParam() + " vae sliced vs naive");
}

INSTANTIATE_TEST_SUITE_P(ReferenceModels, AutoencoderKLParity, ::testing::Values("tiny-sd1", "tiny-sd2v"));

TEST(AutoencoderKL, ParameterNamesMatchDiffusers) {
  ftdr::torchbe::VaeConfig cfg;
  cfg.block_out_channels = {32, 64};
  cfg.down_block_types = {"DownEncoderBlock2D", "DownEncoderBlock2D"};
  cfg.up_block_types = {"UpDecoderBlock2D", "UpDecoderBlock2D"};
  ftdr::torchbe::AutoencoderKL vae(cfg);
  auto params = vae->named_parameters();
  for (const char* key :
       {"encoder.conv_in.weight", "encoder.down_blocks.0.downsamplers.0.conv.weight",
        "encoder.mid_block.attentions.0.group_norm.weight", "encoder.mid_block.attentions.0.to_q.bias",
        "encoder.mid_block.attentions.0.to_out.0.weight", "decoder.up_blocks.0.upsamplers.0.conv.weight",
        "decoder.up_blocks.1.resnets.0.conv_shortcut.weight", "quant_conv.weight", "post_quant_conv.bias"})
    EXPECT_TRUE(params.contains(key)) << key;
}

}  // namespace
