// Malformed single files and .ckpt archives: each refused with one model_error that names the file
// and lists what is wrong; a pickle that would run code is refused by the global's name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <functional>

#include "backend_test_support.hpp"
#include "common/reference.hpp"
#include "ftdr/sdk/error.hpp"
#include "io/pickle_checkpoint.hpp"
#include "io/restricted_unpickler.hpp"
#include "io/single_file.hpp"
#include "io/tensor_file.hpp"
#include "pipeline/loaded_model.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using namespace torchbe;
using ::testing::HasSubstr;

fs::path corpus(const std::string& name) {
  return fs::path(FTDR_SOURCE_DIR) / "fuzz/corpus/pickle_checkpoint" / name;
}

class SingleFileErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ftdr_single_file_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The message of the model_error that loading `path` throws ("" when it loads).
  static std::string load_error(const fs::path& path, const ModelOptions& options = {}) {
    try {
      load_model(path, at::kFloat, options);
    } catch (const sdk::Error& e) {
      EXPECT_EQ(e.kind(), sdk::ErrorKind::model_error) << e.what();
      return e.what();
    }
    return "";
  }

  // tiny-sd1.safetensors with `edit` applied to its tensors, written to the temp folder.
  fs::path edited(const std::string& name,
                  const std::function<void(std::vector<std::pair<std::string, at::Tensor>>&)>& edit) {
    const SafeTensorsFile in = SafeTensorsFile::open(single_file_data_dir() / "tiny-sd1.safetensors");
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& key : in.keys()) tensors.emplace_back(key, in.load(key));
    edit(tensors);
    const fs::path out = dir_ / name;
    save_safetensors(out, tensors);
    return out;
  }

  fs::path dir_;
};

TEST_F(SingleFileErrors, TruncatedFileNamesTheFile) {
  const fs::path cut = dir_ / "cut.safetensors";
  {
    std::ifstream in(single_file_data_dir() / "tiny-sd1.safetensors", std::ios::binary);
    std::string bytes(1 << 20, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  EXPECT_THAT(load_error(cut), HasSubstr("safetensors file " + cut.string() + ": tensor '"));
  EXPECT_THAT(load_error(cut), HasSubstr("] out of range: the data section has "));
}

TEST_F(SingleFileErrors, SdxlAndLoraAndDiffusersFilesAreNamedAsSuch) {
  const fs::path sdxl = dir_ / "sdxl.safetensors", lora = dir_ / "lora.safetensors";
  save_safetensors(
      sdxl, {{"model.diffusion_model.out.2.bias", at::zeros({4})},
             {"conditioner.embedders.0.transformer.text_model.final_layer_norm.bias", at::zeros({8})}});
  save_safetensors(lora,
                   {{"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", at::zeros({4, 8})}});
  EXPECT_EQ(load_error(sdxl),
            "single-file checkpoint " + sdxl.string() +
                ": cannot be loaded:\n  an SDXL checkpoint needs both text encoders: keys under "
                "conditioner.embedders.0.transformer.* (CLIP ViT-L) and conditioner.embedders.1.model.* "
                "(OpenCLIP ViT-bigG)");
  const fs::path refiner = dir_ / "refiner.safetensors";
  save_safetensors(refiner, {{"model.diffusion_model.out.2.bias", at::zeros({4})},
                             {"conditioner.embedders.0.model.ln_final.bias", at::zeros({8})}});
  EXPECT_EQ(load_error(refiner), "single-file checkpoint " + refiner.string() +
                                     ": cannot be loaded:\n  an SDXL refiner checkpoint (OpenCLIP under "
                                     "conditioner.embedders.0.model.*): only SDXL base is supported");
  EXPECT_EQ(load_error(lora),
            "single-file checkpoint " + lora.string() +
                ": cannot be loaded:\n  a LoRA file (lora_unet_* / lora_te* keys), not a model");
  FTDR_REQUIRE_REFERENCE(root);
  const fs::path unet = root / "tiny-sd1" / "unet" / "diffusion_pytorch_model.safetensors";
  EXPECT_THAT(
      load_error(unet),
      HasSubstr("single-file checkpoint " + unet.string() +
                ": cannot be loaded:\n  unknown layout: expected the original Stable Diffusion layout "
                "(model.diffusion_model.*, first_stage_model.*, cond_stage_model.*), found conv_in.* (2), "
                "conv_norm_out.* (2), conv_out.* (2), down_blocks.* ("));
}

TEST_F(SingleFileErrors, UnknownKeysAreListed) {
  const fs::path f =
      edited("stray.safetensors", [](auto& t) { t.emplace_back("unknown.weight", at::zeros({2})); });
  EXPECT_EQ(load_error(f),
            "single-file checkpoint " + f.string() +
                ": cannot be loaded:\n  keys outside the UNet (model.diffusion_model.*), VAE "
                "(first_stage_model.*) and text encoder (cond_stage_model.transformer.*) (1):\n"
                "    unknown.weight");
  // An SD 1.x file with one OpenCLIP key reads as SD 2.x: its CLIP keys are then the stray ones.
  const fs::path mixed = edited("mixed.safetensors", [](auto& t) {
    t.emplace_back("cond_stage_model.model.token_embedding.weight", at::zeros({10, 32}));
  });
  const std::string e = load_error(mixed);
  EXPECT_THAT(e, HasSubstr("single-file checkpoint " + mixed.string() +
                           ": cannot be loaded:\n  keys outside the UNet "
                           "(model.diffusion_model.*), VAE (first_stage_model.*) and text encoder "
                           "(cond_stage_model.model.*) ("));
  EXPECT_THAT(e,
              HasSubstr("\n    cond_stage_model.transformer.text_model.encoder.layers.0.layer_norm1.bias"));
}

TEST_F(SingleFileErrors, ShapeMismatchAndMissingKeysInOneError) {
  const std::string emb = "model.diffusion_model.input_blocks.1.0.emb_layers.1.weight";
  const std::string fc2 = "cond_stage_model.transformer.text_model.encoder.layers.4.mlp.fc2.bias";
  const fs::path f = edited("damaged.safetensors", [&](auto& t) {
    for (auto it = t.begin(); it != t.end();) it = it->first == fc2 ? t.erase(it) : std::next(it);
    for (auto& [k, v] : t)
      if (k == emb) v = at::zeros({32, 64});
  });
  EXPECT_EQ(load_error(f),
            "model " + f.string() + ":\ntext_encoder: weights " + f.string() +
                " do not match the model (prefix 'cond_stage_model.transformer.text_model.'):\n"
                "  missing keys (1):\n    " +
                fc2 +
                " (text_model.encoder.layers.4.mlp.fc2.bias) [32]"
                "\nunet: weights " +
                f.string() +
                " do not match the model (prefix 'model.diffusion_model.'):\n"
                "  shape mismatches (1):\n    " +
                emb + " (down_blocks.0.resnets.0.time_emb_proj.weight): file [32, 64], model [32, 128]");
}

TEST_F(SingleFileErrors, ConfigOfAnotherModelListsTheMismatches) {
  FTDR_REQUIRE_REFERENCE(root);
  const std::string e =
      load_error(single_file_data_dir() / "tiny-sd1.safetensors", {{}, root / "tiny-sd2v", {}});
  EXPECT_THAT(e, HasSubstr("model " + (single_file_data_dir() / "tiny-sd1.safetensors").string() +
                           ":\ntext_encoder: weights "));
  EXPECT_THAT(e, HasSubstr("shape mismatches ("));
  EXPECT_THAT(e, HasSubstr("\nunet: weights "));
}

TEST_F(SingleFileErrors, NoVaeAndNoTextEncoder) {
  const fs::path f = edited("unet_only.safetensors", [](auto& t) {
    for (auto it = t.begin(); it != t.end();)
      it = it->first.rfind("model.diffusion_model.", 0) == 0 ? std::next(it) : t.erase(it);
  });
  EXPECT_EQ(load_error(f),
            "single-file checkpoint " + f.string() +
                ": cannot be loaded:\n  no text encoder: expected keys under "
                "cond_stage_model.transformer.* (SD 1.x, CLIP ViT-L) or cond_stage_model.model.* "
                "(SD 2.x, OpenCLIP)");
}

TEST_F(SingleFileErrors, PickleThatWouldRunCodeIsRefusedByName) {
  // fuzz/corpus/pickle_checkpoint/foreign_global: a torch.save archive whose data.pkl is
  // pickle.dumps({"a": Evil()}) with Evil.__reduce__ = (os.system, ("echo pwned",)).
  const fs::path evil = corpus("foreign_global");
  try {
    open_tensor_file(evil);
    FAIL() << "the pickle was accepted";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::model_error);
    // The GLOBAL opcode "c posix\nsystem\n" ends at byte 27: refused there, before any REDUCE.
    EXPECT_EQ(
        std::string(e.what()),
        "checkpoint " + evil.string() +
            ": pickle at byte 27: global 'posix system' is not allowed (a checkpoint may hold only "
            "tensors, storages, ordered dicts and plain values; this file would run code when loaded by "
            "Python's pickle)");
  }
}

TEST_F(SingleFileErrors, CkptArchivesThatCannotBeRead) {
  const auto error_of = [](const fs::path& p) -> std::string {
    try {
      open_tensor_file(p);
    } catch (const sdk::Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error_of(corpus("truncated")),
            "checkpoint " + corpus("truncated").string() +
                ": not a readable zip archive: no end-of-central-directory record");
  EXPECT_THAT(error_of(corpus("compressed")), HasSubstr("checkpoint " + corpus("compressed").string() +
                                                        ": not a readable zip archive: entry "));
  EXPECT_THAT(error_of(corpus("compressed")),
              HasSubstr(" is compressed or encrypted (torch.save stores entries uncompressed)"));
  EXPECT_EQ(error_of(corpus("strided_view")),
            "checkpoint " + corpus("strided_view").string() +
                ": tensor 't': not contiguous (a view with strides is not read)");
}

TEST(PickleCheckpoint, ViewsOfOneStorageAndAWrappedStateDict) {
  const SafeTensorsFile shared = open_tensor_file(corpus("shared_storage"));
  EXPECT_TRUE(at::equal(shared.load("shared"), at::arange(6, at::kFloat).reshape({2, 3})));
  EXPECT_TRUE(at::equal(shared.load("row"), at::arange(3, 6, at::kFloat)));
  const SafeTensorsFile wrapped = open_tensor_file(corpus("state_dict_wrapped"));
  EXPECT_EQ(wrapped.keys(), std::vector<std::string>{"x"});  // "n": 3 is not a tensor
  EXPECT_TRUE(at::equal(wrapped.load("x"), at::zeros({4})));
  const SafeTensorsFile two = open_tensor_file(corpus("two_tensors"));
  EXPECT_EQ(two.info("b.weight").dtype, "F16");
}

// The machine's bounds: a memo past kMaxPickleMemo entries, a stack past kMaxPickleStack values.
TEST(PickleCheckpoint, BoundsAreErrorsNotMemory) {
  std::vector<std::uint8_t> memo{0x80, 2, 'N'};
  for (std::size_t i = 0; i <= kMaxPickleMemo; ++i) memo.push_back(0x94);  // MEMOIZE
  memo.push_back('.');
  try {
    restricted_unpickle(memo.data(), memo.size(), "memo.pkl");
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(std::string(e.what()), "checkpoint memo.pkl: pickle at byte " +
                                         std::to_string(3 + kMaxPickleMemo + 1) + ": more than " +
                                         std::to_string(kMaxPickleMemo) + " memo entries");
  }
  std::vector<std::uint8_t> deep{0x80, 2};
  for (std::size_t i = 0; i <= kMaxPickleStack; ++i) deep.push_back('(');  // MARK
  deep.push_back('.');
  EXPECT_THROW(restricted_unpickle(deep.data(), deep.size(), "deep.pkl"), sdk::Error);
  const std::uint8_t huge_long[] = {0x80, 2, 0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, '.'};
  EXPECT_THROW(restricted_unpickle(huge_long, sizeof huge_long, "long.pkl"), sdk::Error);
}

}  // namespace
}  // namespace ftdr::test
