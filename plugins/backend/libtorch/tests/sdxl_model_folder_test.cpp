// SDXL diffusers folders that do not fit together: each problem is a model_error naming the file
// and the key (a copy of tests/data/tiny-sdxl, broken one way per test).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <fstream>

#include "ftdr/sdk/error.hpp"
#include "io/model_folder.hpp"
#include "sdxl_test_support.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class BrokenSdxlFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ftdr-sdxl-folder-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::copy(sdxl_data_dir() / "tiny-sdxl", root_, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(root_); }

  void edit(const std::string& file, const std::string& key, const json& value) {
    json j;
    std::ifstream(root_ / file) >> j;
    j[key] = value;
    std::ofstream(root_ / file) << j.dump(2);
  }
  std::string error() {
    try {
      torchbe::read_model_folder(root_);
    } catch (const sdk::Error& e) {
      EXPECT_EQ(e.kind(), sdk::ErrorKind::model_error);
      return e.what();
    }
    ADD_FAILURE() << "a broken folder was accepted";
    return {};
  }
  fs::path root_;
};

TEST_F(BrokenSdxlFolder, TheFolderReadsAsSdxl) {
  const torchbe::ModelFolder m = torchbe::read_model_folder(root_);
  ASSERT_TRUE(m.is_sdxl());
  EXPECT_EQ(m.text_encoder_2->projection_dim, 40);
  EXPECT_EQ(m.tokenizer_2_dir, root_ / "tokenizer_2");
  EXPECT_TRUE(m.force_zeros_for_empty_prompt);
  edit("model_index.json", "force_zeros_for_empty_prompt", false);
  EXPECT_FALSE(torchbe::read_model_folder(root_).force_zeros_for_empty_prompt);
}

TEST_F(BrokenSdxlFolder, CrossAttentionWidthIsBothEncoders) {
  edit("unet/config.json", "cross_attention_dim", 48);
  EXPECT_EQ(error(),
            (root_ / "unet" / "config.json").string() +
                ": key 'cross_attention_dim': 48 does not match the two text encoders' hidden_size 32 + "
                "48 (" +
                (root_ / "text_encoder" / "config.json").string() + ")");
}

TEST_F(BrokenSdxlFolder, PooledWidthIsTheSecondEncodersProjection) {
  edit("text_encoder_2/config.json", "projection_dim", 32);
  EXPECT_EQ(error(),
            (root_ / "unet" / "config.json").string() +
                ": key 'projection_class_embeddings_input_dim': 88 is not 6 * addition_time_embed_dim 8 + "
                "text_encoder_2's projection_dim 32 (" +
                (root_ / "text_encoder_2" / "config.json").string() + ")");
}

TEST_F(BrokenSdxlFolder, MissingSecondTokenizerOrWrongClass) {
  fs::remove_all(root_ / "tokenizer_2");
  EXPECT_EQ(error(), "model folder: missing tokenizer_2 folder " + (root_ / "tokenizer_2").string());
  SetUp();
  edit("model_index.json", "text_encoder_2", json::array({"transformers", "CLIPTextModel"}));
  EXPECT_EQ(error(), (root_ / "model_index.json").string() +
                         ": key 'text_encoder_2': class 'CLIPTextModel' is not supported, expected "
                         "CLIPTextModelWithProjection");
}

}  // namespace
}  // namespace ftdr::test
