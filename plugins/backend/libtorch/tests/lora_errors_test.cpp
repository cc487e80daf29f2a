// Every LoRA refusal, exactly, at validate() (before any work) and again where a phase would apply
// it: folder and names, unreadable files, keys in no known format, layers the model does not have,
// another family's shapes, SDXL layers for a one-encoder model.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "adapter/torch_backend.hpp"
#include "backend_test_support.hpp"
#include "common/reference.hpp"
#include "io/safetensors.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using torchbe::TorchBackend;

class LoraErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ftdr_lora_errors_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
    torchbe::save_safetensors(dir_ / (name + ".safetensors"), tensors);
  }

  // The message validate() gives for `prompt` on tiny-sd1, checked to be invalid_request and to be
  // what encode() says too.
  std::string error_of(const fs::path& root, const std::string& prompt, const std::string& lora_dir) {
    TorchBackend backend(context_with(std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{
        {"device", std::string("cpu")}, {"attention", std::string("naive")}, {"lora_dir", lora_dir}})));
    backend.load((root / "tiny-sd1").string());
    sdk::GenerationParams params;
    params.request.prompt = prompt;
    params.request.width = params.width = 64;
    params.request.height = params.height = 64;
    params.request.steps = 2;
    std::string message = "(accepted)";
    try {
      backend.validate(params);
    } catch (const sdk::Error& e) {
      EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request) << e.what();
      message = e.what();
    }
    try {
      backend.encode(params);
      EXPECT_EQ(message, "(accepted)") << "encode ran";
    } catch (const sdk::Error& e) {
      EXPECT_EQ(std::string(e.what()), message) << "encode";
    }
    return message;
  }

  fs::path dir_;
};

at::Tensor randn(std::vector<int64_t> shape) { return at::randn(shape); }

TEST_F(LoraErrors, FolderAndNames) {
  FTDR_REQUIRE_REFERENCE(root);
  EXPECT_EQ(error_of(root, "a <lora:ink:0.8>", ""),
            "prompt: <lora:ink:0.8>: no LoRA folder is configured (set [backend.libtorch] lora_dir)");
  EXPECT_EQ(error_of(root, "a <lora:ink:0.8>", (dir_ / "none").string()),
            "prompt: <lora:ink:0.8>: no LoRA named \"ink\" (ink.safetensors); lora_dir " +
                (dir_ / "none").string() + " is not a folder");
  EXPECT_EQ(error_of(root, "a <lora:ink:0.8>", dir_.string()),
            "prompt: <lora:ink:0.8>: no LoRA named \"ink\" (ink.safetensors); " + dir_.string() +
                " holds no .safetensors files");
  const std::string proj_in = "lora_unet_down_blocks_1_attentions_0_proj_in";
  for (const char* name : {"zeta", "alpha"})
    write(name, {{proj_in + ".lora_down.weight", randn({4, 64, 1, 1})},
                 {proj_in + ".lora_up.weight", randn({64, 4, 1, 1})}});
  std::ofstream(dir_ / "notes.txt") << "not a LoRA";
  EXPECT_EQ(error_of(root, "a <lora:ink:0.8>", dir_.string()),
            "prompt: <lora:ink:0.8>: no LoRA named \"ink\" (ink.safetensors); " + dir_.string() +
                " has: alpha, zeta");
  EXPECT_EQ(error_of(root, "a <lora:zeta:0.8> <lora:alpha>", dir_.string()), "(accepted)");
  EXPECT_EQ(
      error_of(root, "a <lora:../zeta>", dir_.string()),
      "prompt: <lora:../zeta>: LoRA name \"../zeta\" must be a file name inside lora_dir (no '/', '\\' or "
      "'..')");
}

TEST_F(LoraErrors, UnreadableFilesAndUnknownKeys) {
  FTDR_REQUIRE_REFERENCE(root);
  const std::string proj_in = "lora_unet_down_blocks_1_attentions_0_proj_in";
  write("whole", {{proj_in + ".lora_down.weight", randn({4, 64, 1, 1})},
                  {proj_in + ".lora_up.weight", randn({64, 4, 1, 1})}});
  fs::copy_file(dir_ / "whole.safetensors", dir_ / "cut.safetensors");
  fs::resize_file(dir_ / "cut.safetensors", fs::file_size(dir_ / "whole.safetensors") - 100);
  std::string reader;
  try {
    torchbe::SafeTensorsFile::open(dir_ / "cut.safetensors");
  } catch (const sdk::Error& e) {
    reader = e.what();
  }
  ASSERT_FALSE(reader.empty());
  EXPECT_EQ(error_of(root, "<lora:cut>", dir_.string()),
            "LoRA cut.safetensors: not a readable safetensors file: " + reader);
  write("loha", {{"lora_unet_x.hada_w1_a", randn({4, 4})}, {"lora_unet_x.hada_w1_b", randn({4, 4})}});
  EXPECT_EQ(
      error_of(root, "<lora:loha>", dir_.string()),
      "LoRA loha.safetensors: 2 keys are not LoRA layers this backend reads: lora_unet_x.hada_w1_a, "
      "lora_unet_x.hada_w1_b (expected kohya lora_unet_* / lora_te_* with .lora_down.weight, "
      ".lora_up.weight, .alpha, or diffusers unet.* / text_encoder.* with .lora_A.weight, .lora_B.weight)");
  write("half", {{proj_in + ".lora_down.weight", randn({4, 64, 1, 1})}});
  EXPECT_EQ(error_of(root, "<lora:half>", dir_.string()), "LoRA half.safetensors: " + proj_in +
                                                              ".lora_down.weight has no matching " + proj_in +
                                                              ".lora_up.weight");
  write("alpha", {{proj_in + ".lora_down.weight", randn({4, 64, 1, 1})},
                  {proj_in + ".lora_up.weight", randn({64, 4, 1, 1})},
                  {proj_in + ".alpha", randn({2})}});
  EXPECT_EQ(error_of(root, "<lora:alpha>", dir_.string()),
            "LoRA alpha.safetensors: " + proj_in + ".alpha: expected one finite number (the layer's alpha)");
}

TEST_F(LoraErrors, LayersTheModelDoesNotHave) {
  FTDR_REQUIRE_REFERENCE(root);
  // The original LDM names (input_blocks) instead of diffusers' (down_blocks): nothing matches.
  write("ldm", {{"lora_unet_input_blocks_4_1_proj_in.lora_down.weight", randn({4, 64, 1, 1})},
                {"lora_unet_input_blocks_4_1_proj_in.lora_up.weight", randn({64, 4, 1, 1})}});
  EXPECT_EQ(error_of(root, "<lora:ldm>", dir_.string()),
            "LoRA ldm.safetensors: none of its 1 layers matches a module of the model: "
            "lora_unet_input_blocks_4_1_proj_in (a LoRA for another model?)");
  write("part", {{"unet.down_blocks.1.attentions.0.proj_in.lora_A.weight", randn({4, 64, 1, 1})},
                 {"unet.down_blocks.1.attentions.0.proj_in.lora_B.weight", randn({64, 4, 1, 1})},
                 {"unet.down_blocks.9.proj.lora_A.weight", randn({4, 64})},
                 {"unet.down_blocks.9.proj.lora_B.weight", randn({64, 4})}});
  EXPECT_EQ(error_of(root, "<lora:part>", dir_.string()),
            "LoRA part.safetensors: 1 of its 2 layers match no module of the model: unet.down_blocks.9.proj");
  write("xl", {{"lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", randn({4, 32})},
               {"lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", randn({32, 4})}});
  EXPECT_EQ(
      error_of(root, "<lora:xl>", dir_.string()),
      "LoRA xl.safetensors: lora_te2_* layers are for SDXL's two text encoders; this model has one text "
      "encoder");
}

TEST_F(LoraErrors, AnotherFamilysShapes) {
  FTDR_REQUIRE_REFERENCE(root);
  const std::string proj_in = "lora_unet_down_blocks_1_attentions_0_proj_in";
  write("wide",
        {{proj_in + ".lora_down.weight", randn({4, 32})}, {proj_in + ".lora_up.weight", randn({64, 4})}});
  EXPECT_EQ(
      error_of(root, "<lora:wide>", dir_.string()),
      "LoRA wide.safetensors: " + proj_in + ".lora_up.weight [64, 4] x " + proj_in +
          ".lora_down.weight [4, 32] does not fit the model's unet.down_blocks.1.attentions.0.proj_in.weight "
          "[64, 64, 1, 1] (a LoRA for another model family?)");
  write("rank", {{"text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight", randn({4, 32})},
                 {"text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.weight", randn({37, 8})}});
  EXPECT_EQ(
      error_of(root, "<lora:rank>", dir_.string()),
      "LoRA rank.safetensors: text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.weight [37, 8] x "
      "text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight [4, 32] does not fit the model's "
      "text_encoder.text_model.encoder.layers.0.mlp.fc1.weight [37, 32] (a LoRA for another model family?)");
}

}  // namespace
}  // namespace ftdr::test
