// SDXL base single-file checkpoints (tests/data/single_file/tiny-sdxl.safetensors, written by
// scripts/reference/sdxl.py and checked there with diffusers' from_single_file): the same tensors and
// the same image as the diffusers folder; the configs inferred from the shapes alone.
#include <gtest/gtest.h>

#include "adapter/torch_backend.hpp"
#include "backend_runs.hpp"
#include "backend_test_support.hpp"
#include "io/checkpoint_config.hpp"
#include "io/single_file.hpp"
#include "sdxl_test_support.hpp"

namespace ftdr::test {
namespace {

using namespace torchbe;
namespace fs = std::filesystem;

fs::path sdxl_file() { return sdxl_data_dir() / "single_file" / "tiny-sdxl.safetensors"; }
fs::path sdxl_folder() { return sdxl_data_dir() / "tiny-sdxl"; }

TEST(SdxlSingleFile, GivesTheFoldersTensors) {
  LoadedModel folder = load_model(sdxl_folder(), at::kFloat);
  LoadedModel file = load_model(sdxl_file(), at::kFloat, {{}, sdxl_folder(), {}});
  ASSERT_EQ(file.component_names(), folder.component_names());
  for (const auto& name : folder.component_names()) {
    const auto pa = folder.component(name).named_parameters(), pb = file.component(name).named_parameters();
    ASSERT_EQ(pa.size(), pb.size()) << name;
    for (const auto& item : pa)
      EXPECT_TRUE(at::equal(item.value(), pb[item.key()])) << name << " " << item.key();
  }
  EXPECT_EQ(file.folder.scheduler_config, folder.folder.scheduler_config);
  EXPECT_TRUE(file.folder.force_zeros_for_empty_prompt);
  EXPECT_EQ(file.tokenizer_2->encode("a photo of a cat"), folder.tokenizer_2->encode("a photo of a cat"));
}

// The whole pipeline through the backend: the same pixels (exactly) as the folder.
TEST(SdxlSingleFile, SameImageAsTheFolder) {
  const ReferenceRun r = reference_run(sdxl_data_dir(), "tiny-sdxl", "pipe.euler.s4");
  auto folder = backend_for(sdxl_folder(), {});
  auto file = backend_for(sdxl_file(), {{sdk::kHostModelConfig, sdxl_folder().string()}});
  EXPECT_EQ(file->info().family, "sdxl");
  EXPECT_EQ(file->info().default_sampler, "euler");
  const auto a = generate(*folder, r.params), b = generate(*file, r.params);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].rgb, b[0].rgb);
  EXPECT_LE(max_rgb8_diff(b[0], r.image), 1);  // and diffusers' image, as the folder's
}

// Without [model] config: what the shapes tell. The tiny model's 8 norm groups are not SDXL's 32
// (shapes cannot tell groups), so the file alone is refused with the reason, and the inference is
// checked on its shapes with the channels of each level made SDXL-like (32, 64).
TEST(SdxlSingleFile, ConfigsInferredFromShapes) {
  try {
    read_model(sdxl_file(), {});
    FAIL() << "no error";
  } catch (const sdk::Error& e) {
    EXPECT_NE(std::string(e.what()).find("key 'norm_num_groups': must divide every block_out_channels entry"),
              std::string::npos)
        << e.what();
  }
  ShapeMap shapes = shapes_of(SafeTensorsFile::open(sdxl_file()));
  std::vector<std::string> problems;
  const CLIPTextConfig te1 = infer_text_config(shapes, "conditioner.embedders.0.transformer.text_model.",
                                               TextEncoderKind::clip, problems);
  const CLIPTextConfig te2 = infer_sdxl_text_config_2(shapes, "conditioner.embedders.1.model.", problems);
  EXPECT_EQ(te1.hidden_size, 32);
  EXPECT_EQ(te1.num_hidden_layers, 5);
  EXPECT_EQ(te1.hidden_act, "quick_gelu");
  EXPECT_EQ(te2.hidden_size, 48);
  EXPECT_EQ(te2.num_hidden_layers, 4);  // every stored block (SD 2.x drops the last)
  EXPECT_EQ(te2.projection_dim, 40);
  EXPECT_EQ(te2.hidden_act, "gelu");
  shapes["model.diffusion_model.input_blocks.1.0.out_layers.3.weight"][0] = 32;
  shapes["model.diffusion_model.input_blocks.4.0.out_layers.3.weight"][0] = 64;
  const UNetConfig unet =
      infer_sdxl_unet_config(shapes, "model.diffusion_model.", te2.projection_dim, problems);
  EXPECT_TRUE(problems.empty()) << problems.front();
  const ModelFolder folder = read_model_folder(sdxl_folder());
  EXPECT_EQ(unet.down_block_types, folder.unet.down_block_types);
  EXPECT_EQ(unet.up_block_types, folder.unet.up_block_types);
  EXPECT_EQ(unet.layers_per_block, folder.unet.layers_per_block);
  EXPECT_EQ(unet.transformer_layers_per_block, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(unet.cross_attention_dim, 80);
  EXPECT_EQ(unet.addition_embed_type, "text_time");
  EXPECT_EQ(unet.addition_time_embed_dim, 8);
  EXPECT_EQ(unet.projection_class_embeddings_input_dim, 88);
  EXPECT_EQ(unet.attention_heads, (std::vector<int64_t>{1, 1}));  // 64 channels per head
  EXPECT_TRUE(unet.use_linear_projection);
  EXPECT_FALSE(unet.upcast_attention);
  EXPECT_EQ(unet.sample_size, 128);  // 1024 px
}

// A single file's scheduler is SDXL base's; with [model] config the folder's.
TEST(SdxlSingleFile, SchedulerIsSdxlBases) {
  const nlohmann::json standard = nlohmann::json::parse(kSdxlSchedulerConfig);
  EXPECT_EQ(standard.at("_class_name"), "EulerDiscreteScheduler");
  EXPECT_EQ(standard.at("timestep_spacing"), "leading");
  EXPECT_EQ(read_model(sdxl_file(), {{}, sdxl_folder(), {}}).scheduler_config,
            read_model_folder(sdxl_folder()).scheduler_config);
}

}  // namespace
}  // namespace ftdr::test
