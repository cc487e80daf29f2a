// Model folder and config reading (io/model_folder.hpp; clip/clip_text_config, unet/unet_config,
// vae/vae_config): the reference folders read as the Python libraries resolved them, broken folders give
// model_error naming file and key.
#include "io/model_folder.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "common/reference.hpp"
#include "ftdr/sdk/error.hpp"

namespace fs = std::filesystem;
using ftdr::sdk::Error;
using ftdr::sdk::ErrorKind;
using nlohmann::json;

namespace {

TEST(ModelFolder, ReadsReferenceFoldersLikeDiffusers) {
  FTDR_REQUIRE_REFERENCE(ref);
  auto sd1 = ftdr::torchbe::read_model_folder(ref / "tiny-sd1");
  EXPECT_EQ(sd1.unet.attention_heads, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(sd1.unet.layers_per_block, (std::vector<int64_t>{2, 2}));
  EXPECT_FALSE(sd1.unet.use_linear_projection);
  EXPECT_EQ(sd1.text_encoder.hidden_act, "quick_gelu");
  EXPECT_EQ(sd1.text_encoder.num_hidden_layers, 5);
  EXPECT_DOUBLE_EQ(sd1.vae.scaling_factor, 0.18215);  // absent in the file: the default
  EXPECT_EQ(sd1.vae.layers_per_block, 1);
  EXPECT_EQ(sd1.vae.scale_factor(), 2);
  EXPECT_EQ(sd1.unet_weights.filename(), "diffusion_pytorch_model.safetensors");
  EXPECT_EQ(sd1.text_encoder_weights.filename(), "model.safetensors");
  EXPECT_EQ(sd1.scheduler_config.at("_class_name"), "PNDMScheduler");

  auto sd2 = ftdr::torchbe::read_model_folder(ref / "tiny-sd2v");
  EXPECT_EQ(sd2.unet.attention_heads, (std::vector<int64_t>{2, 4}));
  EXPECT_TRUE(sd2.unet.use_linear_projection);
  EXPECT_TRUE(sd2.unet.upcast_attention);
  EXPECT_EQ(sd2.unet.down_block_types, (std::vector<std::string>{"CrossAttnDownBlock2D", "DownBlock2D"}));
  EXPECT_EQ(sd2.text_encoder.hidden_act, "gelu");
  EXPECT_EQ(sd2.vae.layers_per_block, 2);
}

// The fully resolved configs (every key, as the libraries filled them in) parse to the same structs.
TEST(ModelFolder, ResolvedConfigsFromReferenceJsonParse) {
  FTDR_REQUIRE_REFERENCE(ref);
  for (const char* model : {"tiny-sd1", "tiny-sd2v"}) {
    SCOPED_TRACE(model);
    auto loaded = ftdr::torchbe::read_json_file(ref / model / "reference.json").at("loaded_configs");
    auto folder = ftdr::torchbe::read_model_folder(ref / model);
    auto unet = ftdr::torchbe::UNetConfig::from_json(loaded.at("unet"), "loaded_configs.unet");
    EXPECT_EQ(unet.attention_heads, folder.unet.attention_heads);
    EXPECT_EQ(unet.block_out_channels, folder.unet.block_out_channels);
    EXPECT_EQ(unet.up_block_types, folder.unet.up_block_types);
    auto vae = ftdr::torchbe::VaeConfig::from_json(loaded.at("vae"), "loaded_configs.vae");
    EXPECT_EQ(vae.layers_per_block, folder.vae.layers_per_block);
    auto te =
        ftdr::torchbe::CLIPTextConfig::from_json(loaded.at("text_encoder"), "loaded_configs.text_encoder");
    EXPECT_EQ(te.intermediate_size, folder.text_encoder.intermediate_size);
    EXPECT_EQ(te.eos_token_id, 2);
  }
}

// A minimal, loadable folder in a temp dir (configs as in tiny-sd1; weights files only need to exist).
class BrokenModelFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ftdr_model_folder_test_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (const char* d : {"text_encoder", "tokenizer", "unet", "vae", "scheduler"})
      fs::create_directories(root_ / d);
    write_json("model_index.json", {{"_class_name", "StableDiffusionPipeline"},
                                    {"unet", {"diffusers", "UNet2DConditionModel"}},
                                    {"vae", {"diffusers", "AutoencoderKL"}},
                                    {"text_encoder", {"transformers", "CLIPTextModel"}}});
    write_json("text_encoder/config.json",
               {{"hidden_size", 32}, {"num_attention_heads", 4}, {"num_hidden_layers", 2}});
    write_json("unet/config.json", unet_config());
    write_json("vae/config.json", {{"block_out_channels", {32, 64}},
                                   {"down_block_types", {"DownEncoderBlock2D", "DownEncoderBlock2D"}},
                                   {"up_block_types", {"UpDecoderBlock2D", "UpDecoderBlock2D"}}});
    write_json("scheduler/scheduler_config.json", {{"_class_name", "PNDMScheduler"}});
    for (const char* f :
         {"tokenizer/vocab.json", "tokenizer/merges.txt", "text_encoder/model.safetensors",
          "unet/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors"})
      std::ofstream(root_ / f) << "x";
  }
  void TearDown() override { fs::remove_all(root_); }

  static json unet_config() {
    return {{"block_out_channels", {32, 64}},
            {"attention_head_dim", 8},
            {"cross_attention_dim", 32},
            {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D"}},
            {"up_block_types", {"CrossAttnUpBlock2D", "UpBlock2D"}}};
  }
  void write_json(const std::string& rel, const json& j) { std::ofstream(root_ / rel) << j.dump(2); }

  // read_model_folder must fail with model_error whose message holds every string in `mentions`.
  void expect_error(std::initializer_list<std::string> mentions) {
    try {
      ftdr::torchbe::read_model_folder(root_);
      FAIL() << "a broken folder was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::model_error);
      for (const auto& m : mentions)
        EXPECT_NE(std::string(e.what()).find(m), std::string::npos)
            << "missing '" << m << "' in: " << e.what();
    }
  }

  fs::path root_;
};

TEST_F(BrokenModelFolder, ValidFolderLoadsAndFindsFp16Variant) {
  auto m = ftdr::torchbe::read_model_folder(root_);
  EXPECT_EQ(m.unet_weights.filename(), "diffusion_pytorch_model.fp16.safetensors");
  EXPECT_EQ(m.unet.attention_heads, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(m.text_encoder.vocab_size, 49408);  // default
}

TEST_F(BrokenModelFolder, MissingFolder) {
  fs::remove_all(root_);
  expect_error({root_.string()});
}

TEST_F(BrokenModelFolder, MissingConfigFile) {
  fs::remove(root_ / "unet" / "config.json");
  expect_error({(root_ / "unet" / "config.json").string()});
}

TEST_F(BrokenModelFolder, MissingWeights) {
  fs::remove(root_ / "vae" / "diffusion_pytorch_model.safetensors");
  expect_error({(root_ / "vae").string(), "diffusion_pytorch_model.safetensors"});
}

TEST_F(BrokenModelFolder, BadJson) {
  std::ofstream(root_ / "vae" / "config.json") << "{\"block_out_channels\": [32, ";
  expect_error({(root_ / "vae" / "config.json").string(), "not valid JSON"});
}

TEST_F(BrokenModelFolder, UnsupportedBlockType) {
  json c = unet_config();
  c["down_block_types"] = {"DownBlock2D", "SimpleCrossAttnDownBlock2D"};
  write_json("unet/config.json", c);
  expect_error({(root_ / "unet" / "config.json").string(), "down_block_types", "SimpleCrossAttnDownBlock2D"});
}

TEST_F(BrokenModelFolder, ClassEmbeddingsRefused) {
  json c = unet_config();
  c["class_embed_type"] = "timestep";
  write_json("unet/config.json", c);
  expect_error({(root_ / "unet" / "config.json").string(), "class_embed_type"});
}

// Only SDXL's text_time embedding, and only with a second text encoder (tests/sdxl_*).
TEST_F(BrokenModelFolder, AdditionEmbeddingsOtherThanSdxlsRefused) {
  json c = unet_config();
  c["addition_embed_type"] = "text";
  write_json("unet/config.json", c);
  expect_error({(root_ / "unet" / "config.json").string(), "addition_embed_type", "text_time"});
  c["addition_embed_type"] = "text_time";
  write_json("unet/config.json", c);
  expect_error({"addition_time_embed_dim", "required with addition_embed_type text_time"});
  c["addition_time_embed_dim"] = 8;
  c["projection_class_embeddings_input_dim"] = 80;
  write_json("unet/config.json", c);
  expect_error({"addition_embed_type", "needs a second text encoder (text_encoder_2)"});
}

TEST_F(BrokenModelFolder, WrongTypeNamesKey) {
  json c = unet_config();
  c["layers_per_block"] = "two";
  write_json("unet/config.json", c);
  expect_error({(root_ / "unet" / "config.json").string(), "layers_per_block", "integer"});
}

TEST_F(BrokenModelFolder, HeadListOfWrongLength) {
  json c = unet_config();
  c["attention_head_dim"] = {2, 4, 8};
  write_json("unet/config.json", c);
  expect_error({"attention_head_dim", "2 entries"});
}

TEST_F(BrokenModelFolder, UnknownActivation) {
  write_json("text_encoder/config.json",
             {{"hidden_size", 32}, {"num_attention_heads", 4}, {"hidden_act", "swish"}});
  expect_error({(root_ / "text_encoder" / "config.json").string(), "hidden_act", "swish"});
}

TEST_F(BrokenModelFolder, CrossAttentionDimMustMatchTextEncoder) {
  json c = unet_config();
  c["cross_attention_dim"] = 64;
  write_json("unet/config.json", c);
  expect_error({"cross_attention_dim", "hidden_size"});
}

TEST_F(BrokenModelFolder, UnsupportedVaeBlock) {
  write_json("vae/config.json", {{"block_out_channels", {32}},
                                 {"down_block_types", {"AttnDownEncoderBlock2D"}},
                                 {"up_block_types", {"UpDecoderBlock2D"}}});
  expect_error({(root_ / "vae" / "config.json").string(), "down_block_types", "AttnDownEncoderBlock2D"});
}

// Every numeric field is range-checked when read: negative, zero, huge and wrong-typed values are a
// model_error naming the file and the key, before anything is sized from them.
TEST_F(BrokenModelFolder, OutOfRangeValuesNameTheFileAndKey) {
  struct Case {
    std::string file, key;
    json value;
  };
  const json big = int64_t{1} << 40;
  const std::vector<Case> cases = {
      {"unet/config.json", "layers_per_block", 100000},
      {"unet/config.json", "layers_per_block", 0},
      {"unet/config.json", "block_out_channels", {32, big}},
      {"unet/config.json", "sample_size", -1},
      {"unet/config.json", "in_channels", 100000},
      {"unet/config.json", "conv_in_kernel", -1},
      {"unet/config.json", "downsample_padding", 7},
      {"unet/config.json", "norm_eps", 0},
      {"unet/config.json", "transformer_layers_per_block", 1000},
      {"vae/config.json", "sample_size", -1},
      {"vae/config.json", "layers_per_block", big},
      {"vae/config.json", "latent_channels", -4},
      {"vae/config.json", "norm_num_groups", 0},
      {"vae/config.json", "scaling_factor", -0.5},
      {"vae/config.json", "block_out_channels", {32, 64, 64, 64, 64, 64, 64, 64, 64}},
      {"text_encoder/config.json", "num_hidden_layers", 1000000},
      {"text_encoder/config.json", "vocab_size", -1},
      {"text_encoder/config.json", "max_position_embeddings", 0},
      {"text_encoder/config.json", "layer_norm_eps", -1},
      {"text_encoder/config.json", "bos_token_id", 49408},
      {"text_encoder/config.json", "intermediate_size", "wide"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file + " " + c.key + " = " + c.value.dump());
    SetUp();  // a fresh valid folder
    json j;
    std::ifstream(root_ / c.file) >> j;
    j[c.key] = c.value;
    if (c.key == "block_out_channels" && c.file == "vae/config.json") {
      j["down_block_types"] = json(c.value.size(), "DownEncoderBlock2D");
      j["up_block_types"] = json(c.value.size(), "UpDecoderBlock2D");
    }
    write_json(c.file, j);
    expect_error({(root_ / c.file).string(), "'" + c.key + "'"});
  }
}

// scheduler_config.json is resolved for every sampler at load: exit 2 when the model loads, not
// exit 3 when a job first runs a sampler.
TEST_F(BrokenModelFolder, SchedulerConfigErrorsSurfaceAtLoad) {
  const std::vector<std::pair<std::string, json>> cases = {
      {"beta_schedule", "cosine"},
      {"num_train_timesteps", int64_t{4294967298}},  // would wrap to 2 as a 32-bit int
      {"beta_start", -0.1},
      {"beta_end", 1.5},
      {"steps_offset", -1},
      {"clip_sample_range", 0},
      {"thresholding", true},  // DDIM/DPM only: refused although PNDM (the file's class) ignores it
      {"solver_type", "bh2"},
      {"sigma_min", -1},
  };
  for (const auto& [key, value] : cases) {
    SCOPED_TRACE(key + " = " + value.dump());
    write_json("scheduler/scheduler_config.json", {{"_class_name", "PNDMScheduler"}, {key, value}});
    expect_error({(root_ / "scheduler" / "scheduler_config.json").string(), "'" + key + "'"});
  }
}

}  // namespace
