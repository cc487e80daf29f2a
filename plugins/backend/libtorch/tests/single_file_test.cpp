// Single-file checkpoints (tests/data/single_file, written and checked against diffusers'
// from_single_file by scripts/reference/single_file.py): the same tensors and the same images as the
// diffusers folders they came from; configs inferred from shapes; the sidecar .yaml; a separate
// VAE; a .ckpt equal to the .safetensors.
#include <gtest/gtest.h>

#include <memory>

#include "adapter/torch_backend.hpp"
#include "backend_runs.hpp"
#include "backend_test_support.hpp"
#include "common/reference.hpp"
#include "io/single_file.hpp"
#include "io/tensor_file.hpp"
#include "pipeline/loaded_model.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using namespace torchbe;

// Every parameter and buffer of two loaded models, bit for bit.
void expect_same_weights(LoadedModel& a, LoadedModel& b) {
  for (const auto& name : a.component_names()) {
    const auto pa = a.component(name).named_parameters(), pb = b.component(name).named_parameters();
    ASSERT_EQ(pa.size(), pb.size()) << name;
    for (const auto& item : pa)
      EXPECT_TRUE(at::equal(item.value(), pb[item.key()])) << name << " " << item.key();
  }
}

TEST(SingleFile, Sd1GivesTheFoldersTensors) {
  FTDR_REQUIRE_REFERENCE(root);
  LoadedModel folder = load_model(root / "tiny-sd1", at::kFloat);
  LoadedModel file =
      load_model(single_file_data_dir() / "tiny-sd1.safetensors", at::kFloat, {{}, root / "tiny-sd1", {}});
  expect_same_weights(folder, file);
  EXPECT_EQ(file.folder.scheduler_config, folder.folder.scheduler_config);
  EXPECT_EQ(file.tokenizer.encode("a photo of a cat"), folder.tokenizer.encode("a photo of a cat"));
}

TEST(SingleFile, Sd2OpenClipGivesTheFoldersTensors) {
  FTDR_REQUIRE_REFERENCE(root);
  LoadedModel folder = load_model(root / "tiny-sd2v", at::kFloat);
  LoadedModel file =
      load_model(single_file_data_dir() / "tiny-sd2v.safetensors", at::kFloat, {{}, root / "tiny-sd2v", {}});
  expect_same_weights(folder, file);
  EXPECT_EQ(file.folder.checkpoint->text, TextEncoderKind::open_clip);
}

// The whole pipeline through the backend: the same PNG bytes (exactly) as the folder.
TEST(SingleFile, SameImageAsTheFolderSd1AndSd2v) {
  FTDR_REQUIRE_REFERENCE(root);
  const std::vector<std::pair<std::string, std::string>> runs = {{"tiny-sd1", "pipe.pndm.s4"},
                                                                 {"tiny-sd2v", "pipe.ddim.s4"}};
  for (const auto& [name, run] : runs) {
    const ReferenceRun r = reference_run(root, name, run);
    auto folder = backend_for(root / name, {});
    auto file = backend_for(single_file_data_dir() / (name + ".safetensors"),
                            {{sdk::kHostModelConfig, (root / name).string()}});
    EXPECT_EQ(file->info().family, folder->info().family) << name;
    EXPECT_EQ(file->info().prediction_type, folder->info().prediction_type) << name;
    const auto a = generate(*folder, r.params), b = generate(*file, r.params);
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(a[0].rgb, b[0].rgb) << name;
    EXPECT_LE(max_rgb8_diff(b[0], r.image), 1) << name;  // and diffusers' image, as the folder's
  }
}

// Without [model] config: everything the shapes tell equals the folder's config; the heads follow
// the family's rule (SD 1.x UNet: 8; CLIP/OpenCLIP: 64 channels per head), and SD 2.x runs the
// penultimate of its stored OpenCLIP blocks.
TEST(SingleFile, ConfigsInferredFromShapes) {
  FTDR_REQUIRE_REFERENCE(root);
  for (const std::string name : {"tiny-sd1", "tiny-sd2v"}) {
    const ModelFolder folder = read_model_folder(root / name);
    const ModelFolder file = read_model(single_file_data_dir() / (name + ".safetensors"), {});
    EXPECT_EQ(file.unet.block_out_channels, folder.unet.block_out_channels) << name;
    EXPECT_EQ(file.unet.layers_per_block, folder.unet.layers_per_block) << name;
    EXPECT_EQ(file.unet.down_block_types, folder.unet.down_block_types) << name;
    EXPECT_EQ(file.unet.up_block_types, folder.unet.up_block_types) << name;
    EXPECT_EQ(file.unet.cross_attention_dim, folder.unet.cross_attention_dim) << name;
    EXPECT_EQ(file.unet.use_linear_projection, folder.unet.use_linear_projection) << name;
    EXPECT_EQ(file.unet.upcast_attention, folder.unet.upcast_attention) << name;
    EXPECT_EQ(file.unet.in_channels, folder.unet.in_channels) << name;
    EXPECT_EQ(file.vae.block_out_channels, folder.vae.block_out_channels) << name;
    EXPECT_EQ(file.vae.layers_per_block, folder.vae.layers_per_block) << name;
    EXPECT_EQ(file.vae.latent_channels, folder.vae.latent_channels) << name;
    EXPECT_EQ(file.text_encoder.vocab_size, folder.text_encoder.vocab_size) << name;
    EXPECT_EQ(file.text_encoder.hidden_size, folder.text_encoder.hidden_size) << name;
    EXPECT_EQ(file.text_encoder.intermediate_size, folder.text_encoder.intermediate_size) << name;
    EXPECT_EQ(file.text_encoder.hidden_act, folder.text_encoder.hidden_act) << name;
    EXPECT_EQ(file.text_encoder.num_attention_heads, 1) << name;  // 32 channels / 64, at least 1
    EXPECT_TRUE(file.tokenizer_dir.empty()) << name;              // the built-in vocabulary
  }
  EXPECT_EQ(read_model(single_file_data_dir() / "tiny-sd1.safetensors", {}).unet.attention_heads,
            (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(read_model(single_file_data_dir() / "tiny-sd1.safetensors", {}).text_encoder.num_hidden_layers,
            5);
  EXPECT_EQ(read_model(single_file_data_dir() / "tiny-sd2v.safetensors", {}).unet.attention_heads,
            (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(read_model(single_file_data_dir() / "tiny-sd2v.safetensors", {}).text_encoder.num_hidden_layers,
            2);
  // The inferred model loads (its shapes are the file's): the block after the last one run is skipped.
  EXPECT_NO_THROW(load_model(single_file_data_dir() / "tiny-sd2v.safetensors", at::kFloat));
}

TEST(SingleFile, BuiltInTokenizerPadsLikeTheFamily) {
  FTDR_REQUIRE_REFERENCE(root);
  for (const std::string name : {"tiny-sd1", "tiny-sd2v"}) {
    const LoadedModel folder = load_model(root / name, at::kFloat);
    const LoadedModel file = load_model(single_file_data_dir() / (name + ".safetensors"), at::kFloat);
    for (const std::string text : {"a photo of a cat", "", "naïve café, 100% (emphasis:1.2)!"})
      EXPECT_EQ(file.tokenizer.encode(text), folder.tokenizer.encode(text)) << name << ": " << text;
  }
}

TEST(SingleFile, PredictionTypeFromSidecarYamlOrConfig) {
  // tiny-sd2v.yaml says parameterization: "v"; tiny-sd1 has no sidecar.
  EXPECT_EQ(
      read_model(single_file_data_dir() / "tiny-sd2v.safetensors", {}).scheduler_config.at("prediction_type"),
      "v_prediction");
  EXPECT_FALSE(read_model(single_file_data_dir() / "tiny-sd1.safetensors", {})
                   .scheduler_config.contains("prediction_type"));
  EXPECT_EQ(read_model(single_file_data_dir() / "tiny-sd2v.safetensors", {{}, {}, "epsilon"})
                .scheduler_config.at("prediction_type"),
            "epsilon");
  EXPECT_EQ(read_model(single_file_data_dir() / "tiny-sd1.safetensors", {{}, {}, "v_prediction"})
                .scheduler_config.at("prediction_type"),
            "v_prediction");
  EXPECT_EQ(
      read_model(single_file_data_dir() / "tiny-sd1.safetensors", {}).scheduler_config.at("_class_name"),
      "PNDMScheduler");
}

// tiny-sd1-vae.ckpt holds tiny-sd1's first_stage_model.* in a torch.save zip: the same keys, shapes
// and bytes as the .safetensors.
TEST(SingleFile, CkptEqualsSafetensors) {
  const SafeTensorsFile ckpt = open_tensor_file(single_file_data_dir() / "tiny-sd1-vae.ckpt");
  const SafeTensorsFile st = open_tensor_file(single_file_data_dir() / "tiny-sd1.safetensors");
  size_t vae_keys = 0;
  for (const auto& key : st.keys()) {
    if (key.rfind("first_stage_model.", 0) != 0) continue;
    ++vae_keys;
    ASSERT_TRUE(ckpt.contains(key)) << key;
    EXPECT_TRUE(at::equal(ckpt.load(key), st.load(key))) << key;
  }
  EXPECT_EQ(ckpt.keys().size(), vae_keys);
  EXPECT_GT(vae_keys, 100u);
}

// --vae: tiny-sd2v with tiny-sd1's VAE from the .ckpt has exactly tiny-sd1's VAE weights.
TEST(SingleFile, SeparateVaeFileReplacesTheModelsVae) {
  FTDR_REQUIRE_REFERENCE(root);
  LoadedModel sd1 = load_model(root / "tiny-sd1", at::kFloat);
  for (const fs::path& model : {single_file_data_dir() / "tiny-sd2v.safetensors", root / "tiny-sd2v"}) {
    LoadedModel m = load_model(model, at::kFloat, {single_file_data_dir() / "tiny-sd1-vae.ckpt", {}, {}});
    const auto mine = m.vae->named_parameters(), theirs = sd1.vae->named_parameters();
    ASSERT_EQ(mine.size(), theirs.size()) << model;
    for (const auto& item : mine) EXPECT_TRUE(at::equal(item.value(), theirs[item.key()])) << item.key();
    EXPECT_EQ(m.folder.vae.layers_per_block, sd1.folder.vae.layers_per_block);
  }
}

}  // namespace
}  // namespace ftdr::test
