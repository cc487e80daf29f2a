// VAE parity (vae/autoencoder_kl.hpp) against diffusers' AutoencoderKL.
#include "vae/autoencoder_kl.hpp"

#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include <cstdio>

#include "common/reference.hpp"
#include "io/weights.hpp"
#include "nn/cpu_conv.hpp"
#include "nn/winograd_conv.hpp"
#include "pipeline/image_convert.hpp"
#include "pipeline/loaded_model.hpp"
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

ftdr::torchbe::VaeConfig two_level_config() {
  ftdr::torchbe::VaeConfig cfg;
  cfg.block_out_channels = {32, 64};
  cfg.down_block_types = {"DownEncoderBlock2D", "DownEncoderBlock2D"};
  cfg.up_block_types = {"UpDecoderBlock2D", "UpDecoderBlock2D"};
  return cfg;
}

TEST(AutoencoderKL, ParameterNamesMatchDiffusers) {
  ftdr::torchbe::AutoencoderKL vae(two_level_config());
  auto params = vae->named_parameters();
  for (const char* key :
       {"encoder.conv_in.weight", "encoder.down_blocks.0.downsamplers.0.conv.weight",
        "encoder.mid_block.attentions.0.group_norm.weight", "encoder.mid_block.attentions.0.to_q.bias",
        "encoder.mid_block.attentions.0.to_out.0.weight", "decoder.up_blocks.0.upsamplers.0.conv.weight",
        "decoder.up_blocks.1.resnets.0.conv_shortcut.weight", "quant_conv.weight", "post_quant_conv.bias"})
    EXPECT_TRUE(params.contains(key)) << key;
}

// The runtime builds the decoder alone (text-to-image never encodes): no encoder or quant_conv
// parameters, and encode() says so instead of crashing.
TEST(AutoencoderKL, DecoderOnlyHasNoEncoderAndRefusesToEncode) {
  ftdr::torchbe::AutoencoderKL vae(two_level_config(), ftdr::torchbe::VaeParts::decoder);
  auto params = vae->named_parameters();
  EXPECT_TRUE(params.contains("decoder.conv_in.weight"));
  EXPECT_TRUE(params.contains("post_quant_conv.weight"));
  for (const auto& p : params)
    for (const auto& left_out : ftdr::torchbe::kVaeEncoderKeys)
      EXPECT_NE(p.key().rfind(left_out, 0), 0u) << p.key();
  try {
    vae->encode(at::zeros({1, 3, 16, 16}));
    FAIL() << "a decoder-only VAE encoded";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "AutoencoderKL::encode: this VAE was built without its encoder");
  }
}

// A diffusers VAE file holds both halves: the decoder-only VAE reads the decoder's weights and
// ignores the encoder's (without `ignoring` they are unexpected keys), and decodes exactly as the
// whole VAE does; load_model builds it so.
TEST(AutoencoderKL, DecoderOnlyLoadsFromAWholeFileAndDecodesTheSame) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& whole = load_parity_model(ref, "tiny-sd1");
  namespace tb = ftdr::torchbe;
  tb::AutoencoderKL decoder(whole.folder.vae, tb::VaeParts::decoder);
  const tb::WeightSource file(tb::SafeTensorsFile::open(whole.folder.vae_weights));
  EXPECT_NE(tb::check_module_weights(*decoder, file).find("unexpected keys"), std::string::npos);
  tb::load_module_weights(*decoder, file.ignoring(tb::kVaeEncoderKeys), at::kFloat);
  decoder->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor z = whole.ref("vae.decode_input");
  EXPECT_TRUE(at::equal(decoder->decode(z), whole.vae->decode(z)));

  tb::LoadedModel loaded = tb::load_model(whole.dir, at::kFloat);
  EXPECT_FALSE(loaded.vae->encoder);
  EXPECT_TRUE(at::equal(loaded.vae->decode(z), whole.vae->decode(z)));
}

// On the CPU a batch decodes image by image: each image is exactly its decode alone.
TEST(AutoencoderKL, ABatchDecodesEachImageAsAlone) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto& m = load_parity_model(ref, "tiny-sd1");
  c10::InferenceMode inference;
  at::manual_seed(24);
  const at::Tensor z = at::randn({3, m.folder.vae.latent_channels, 8, 8});
  const at::Tensor batch = m.vae->decode(z);
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_TRUE(at::equal(batch.slice(0, i, i + 1), m.vae->decode(z.slice(0, i, i + 1)))) << "image " << i;
  EXPECT_TRUE(batch.is_contiguous());
}

// The SD VAE decoder's size (block_out_channels 128, 256, 512, 512; random weights, PyTorch's
// default initialisation) decoding a 256x256 image: its 3x3 convolutions from the 64x64 level on
// are Winograd's (nn/cpu_conv.cpp), and the image is the one oneDNN's direct convolutions give to
// float32 rounding: within 1e-4 of the output's scale, and as 8-bit pixels at most one level apart
// in at most 0.1% of the values. (Measured: 2026-12-03, AMD EPYC.)
TEST(AutoencoderKL, SdSizeDecodeWithWinogradIsTheDirectConvolutionsImage) {
  if (!ftdr::torchbe::winograd_conv_available()) GTEST_SKIP() << "this CPU has no AVX2 and FMA: no Winograd";
  namespace tb = ftdr::torchbe;
  tb::VaeConfig cfg;
  cfg.block_out_channels = {128, 256, 512, 512};
  cfg.layers_per_block = 2;
  cfg.down_block_types.assign(4, "DownEncoderBlock2D");
  cfg.up_block_types.assign(4, "UpDecoderBlock2D");
  at::manual_seed(31);
  tb::AutoencoderKL vae(cfg, tb::VaeParts::decoder);
  vae->eval();
  c10::InferenceMode inference;
  const at::Tensor z = at::randn({1, 4, 32, 32});
  const at::Tensor winograd = vae->decode(z);
  tb::set_winograd_convs(false);
  const at::Tensor direct = vae->decode(z);
  tb::set_winograd_convs(true);
  ASSERT_EQ(winograd.sizes(), (std::vector<int64_t>{1, 3, 256, 256}));
  const double scale = direct.abs().max().item<double>();
  const double diff = (winograd - direct).abs().max().item<double>();
  EXPECT_GT(diff, 0.0) << "the same bits: was Winograd used?";
  EXPECT_LE(diff, 1e-4 * scale) << "scale " << scale;
  const at::Tensor a = tb::decoded_to_unit(winograd).mul(255).round(),
                   b = tb::decoded_to_unit(direct).mul(255).round();
  const at::Tensor levels = (a - b).abs();
  const double off = levels.gt(0).sum().item<double>() / static_cast<double>(levels.numel());
  EXPECT_LE(levels.max().item<double>(), 1.0);
  EXPECT_LE(off, 1e-3);
  std::printf("[ winograd decode ] max |diff| %.3g of scale %.3g; %.4f%% of 8-bit values one level apart\n",
              diff, scale, 100 * off);
}

}  // namespace
