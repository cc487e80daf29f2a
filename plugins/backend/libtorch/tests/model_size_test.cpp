// io/model_size.hpp: a model's size from its configs, checked before any module is allocated. The
// counts equal what the networks built from the same configs hold; a config that does not belong to
// its weights, or weights that cannot fit in memory, are refused at load with the files named.
#include "io/model_size.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "clip/clip_text_model.hpp"
#include "common/reference.hpp"
#include "ftdr/sdk/error.hpp"
#include "pipeline/loaded_model.hpp"
#include "unet/unet_2d_condition_model.hpp"
#include "vae/autoencoder_kl.hpp"

namespace fs = std::filesystem;
using ftdr::sdk::Error;
using ftdr::sdk::ErrorKind;
using nlohmann::json;
namespace tb = ftdr::torchbe;

namespace {

fs::path demo_model_dir() { return fs::path(FTDR_SOURCE_DIR) / "models" / "ftdr-shapes"; }

std::uint64_t built_values(const torch::nn::Module& m) {
  std::uint64_t n = 0;
  for (const auto& p : m.parameters()) n += static_cast<std::uint64_t>(p.numel());
  for (const auto& b : m.buffers()) n += static_cast<std::uint64_t>(b.numel());
  return n;
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

TEST(ModelSize, UNetCountsEqualTheBuiltNetwork) {
  const json demo = read_json(demo_model_dir() / "unet" / "config.json");
  std::vector<json> variants(6, demo);
  variants[1]["use_linear_projection"] = true;
  variants[2]["layers_per_block"] = {1, 2};
  variants[2]["transformer_layers_per_block"] = 2;
  variants[3]["down_block_types"] = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D"};
  variants[3]["up_block_types"] = {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D"};
  variants[4]["block_out_channels"] = {32, 64, 96};
  variants[4]["down_block_types"] = {"CrossAttnDownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"};
  variants[4]["up_block_types"] = {"UpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"};
  variants[5]["conv_in_kernel"] = 1;
  variants[5]["conv_out_kernel"] = 5;
  variants[5]["in_channels"] = 9;
  for (size_t i = 0; i < variants.size(); ++i) {
    const auto cfg = tb::UNetConfig::from_json(variants[i], "unet/config.json");
    EXPECT_EQ(tb::network_size(cfg).values(), built_values(*tb::UNet2DConditionModel(cfg)))
        << "variant " << i;
  }
}

TEST(ModelSize, VaeAndTextEncoderCountsEqualTheBuiltNetworks) {
  const json demo = read_json(demo_model_dir() / "vae" / "config.json");
  std::vector<json> variants(3, demo);
  variants[1]["mid_block_add_attention"] = false;
  variants[1]["layers_per_block"] = 2;
  variants[2]["use_quant_conv"] = false;
  variants[2]["use_post_quant_conv"] = false;
  variants[2]["latent_channels"] = 16;
  for (size_t i = 0; i < variants.size(); ++i) {
    const auto cfg = tb::VaeConfig::from_json(variants[i], "vae/config.json");
    EXPECT_EQ(tb::network_size(cfg).values(), built_values(*tb::AutoencoderKL(cfg))) << "variant " << i;
  }
  const auto te =
      tb::CLIPTextConfig::from_json(read_json(demo_model_dir() / "text_encoder" / "config.json"), "te");
  const auto size = tb::network_size(te);
  EXPECT_EQ(size.values(), built_values(*tb::CLIPTextModel(te)));
  EXPECT_EQ(size.int64s, 77u);  // position_ids
}

// The published parameter counts of runwayml/stable-diffusion-v1-5, from its configs alone.
TEST(ModelSize, StableDiffusion15Configs) {
  FTDR_REQUIRE_REFERENCE(root);
  const fs::path sd15 = root / "sd15-configs";
  EXPECT_EQ(
      tb::network_size(tb::UNetConfig::from_json(read_json(sd15 / "unet" / "config.json"), "unet")).values(),
      859520964u);
  EXPECT_EQ(
      tb::network_size(tb::VaeConfig::from_json(read_json(sd15 / "vae" / "config.json"), "vae")).values(),
      83653863u);
  const auto te = tb::network_size(
      tb::CLIPTextConfig::from_json(read_json(sd15 / "text_encoder" / "config.json"), "text_encoder"));
  EXPECT_EQ(te.floats, 123060480u);
}

TEST(ModelSize, TheDemoModelFitsItsWeights) {
  const auto folder = tb::read_model_folder(demo_model_dir());
  EXPECT_NO_THROW(tb::check_component_sizes(tb::component_sizes(folder), at::kFloat, 0));
}

// SDXL: text_encoder_2 (with text_projection), the UNet's add_embedding and per-level depth, each
// counted from its config and equal to its F16 safetensors file.
TEST(ModelSize, TheTinySdxlFitsItsWeightsWithBothTextEncoders) {
  const auto folder =
      tb::read_model_folder(fs::path(FTDR_SOURCE_DIR) / "plugins/backend/libtorch/tests/data/tiny-sdxl");
  const auto sizes = tb::component_sizes(folder);
  ASSERT_EQ(sizes.size(), 4u);
  EXPECT_NE(sizes[1].weights_file.find("text_encoder_2"), std::string::npos);
  EXPECT_NO_THROW(tb::check_component_sizes(sizes, at::kFloat, 0));
  json unet =
      read_json(fs::path(FTDR_SOURCE_DIR) / "plugins/backend/libtorch/tests/data/tiny-sdxl/unet/config.json");
  unet["transformer_layers_per_block"] = {1, 3};
  const auto cfg = tb::UNetConfig::from_json(unet, "unet/config.json");
  EXPECT_EQ(tb::network_size(cfg).values(), built_values(*tb::UNet2DConditionModel(cfg)));
}

TEST(ModelSize, WeightsThatCannotFitInMemoryAreRefused) {
  const auto folder = tb::read_model_folder(demo_model_dir());
  const auto sizes = tb::component_sizes(folder);
  std::uint64_t f32 = 0;
  for (const auto& c : sizes) f32 += c.size.bytes(at::kFloat);
  EXPECT_NO_THROW(tb::check_component_sizes(sizes, at::kFloat, f32));
  try {
    tb::check_component_sizes(sizes, at::kFloat, f32 - 1);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::model_error);
    EXPECT_NE(std::string(e.what()).find("is available"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(tb::check_component_sizes(sizes, at::kHalf, f32 / 2 + 1024));  // f16 halves it
}

// A copy of the demo model with one file changed per test; load_model must refuse it.
class BrokenDemoModel : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ftdr_model_size_test_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::copy(demo_model_dir(), root_, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(root_); }
  void edit(const std::string& rel, const std::string& key, const json& value) {
    json j = read_json(root_ / rel);
    j[key] = value;
    std::ofstream(root_ / rel) << j.dump(2);
  }
  void expect_load_error(std::initializer_list<std::string> mentions) {
    try {
      tb::load_model(root_, at::kFloat);
      FAIL() << "a broken model loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::model_error) << e.what();
      for (const auto& m : mentions)
        EXPECT_NE(std::string(e.what()).find(m), std::string::npos)
            << "missing '" << m << "' in: " << e.what();
    }
  }
  fs::path root_;
};

// Without the check this config allocates ~160 GB of UNet before the loader compares shapes.
TEST_F(BrokenDemoModel, AConfigFarLargerThanItsWeightsIsRefusedBeforeAllocating) {
  edit("unet/config.json", "block_out_channels", {4096, 4096});
  edit("unet/config.json", "layers_per_block", 64);
  expect_load_error({(root_ / "unet" / "config.json").string(),
                     (root_ / "unet" / "diffusion_pytorch_model.safetensors").string(),
                     "does not belong to these weights"});
}

TEST_F(BrokenDemoModel, ALayerMoreThanTheWeightsIsRefused) {
  edit("vae/config.json", "layers_per_block", 2);
  expect_load_error({(root_ / "vae" / "config.json").string(), "does not belong to these weights"});
}

TEST_F(BrokenDemoModel, ModelMaxLengthPastThePositionEmbeddingsIsRefusedAtLoad) {
  edit("tokenizer/tokenizer_config.json", "model_max_length", 100);
  expect_load_error({(root_ / "tokenizer" / "tokenizer_config.json").string(), "model_max_length", "77"});
}

TEST_F(BrokenDemoModel, VocabIdsPastTheEmbeddingTableAreRefusedAtLoad) {
  edit("tokenizer/vocab.json", "zzzz</w>", 5000);
  expect_load_error({(root_ / "tokenizer" / "vocab.json").string(), "5000", "vocab_size"});
}

}  // namespace
