// `ftdr generate --model FILE.safetensors` on the real libtorch plugin: a single-file checkpoint with
// a separate VAE generates; with [model] config = its diffusers folder the pixels equal the folder's;
// an SDXL file exits 2 naming the file. Needs the libtorch plugin and ../shared/reference.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/reference.hpp"
#include "ftdr/framework/output/png_writer.hpp"
#include "integration/cli_runner.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const fs::path kPlugin = fs::path(FTDR_PLUGIN_BUILD_DIR) / "ftdr_plugin_libtorch.so";
const fs::path kData = fs::path(FTDR_SOURCE_DIR) / "plugins/backend/libtorch/tests/data/single_file";

class SingleFileCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kPlugin)) GTEST_SKIP() << "no libtorch plugin at " << kPlugin;
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  // A config on the CPU; `model` is the [model] table's extra lines.
  fs::path config(const std::string& name, const std::string& model) const {
    const fs::path file = dir_ / (name + ".toml");
    write_file(file, "[runtime]\nstate_dir = \"" + (dir_ / "state").string() + "\"\noutput_dir = \"" +
                         (dir_ / "out").string() + "\"\n[plugins]\nsearch_path = [\"" +
                         FTDR_PLUGIN_BUILD_DIR +
                         "\"]\n[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\ndevice = \"cpu\"\n"
                         "[memory]\npolicy = \"sequential\"\n[generate]\nsteps = 2\nwidth = 64\nheight = 64\n"
                         "[model]\n" +
                         model);
    return file;
  }
  CliResult generate(const fs::path& cfg, const std::string& prefix,
                     std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"generate",     "--config", cfg.string(), "--prompt",
                               "a red circle", "--prefix", prefix};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_ftdr(a, {}, dir_);
  }
  fs::path dir_;
};

TEST_F(SingleFileCli, SafetensorsWithSeparateCkptVaeGenerates) {
  const auto r = generate(config("sf", ""), "sf",
                          {"--model", (kData / "tiny-sd2v.safetensors").string(), "--vae",
                           (kData / "tiny-sd1-vae.ckpt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto png = framework::read_png(dir_ / "out" / "sf-0.png");
  EXPECT_EQ(png.image.width, 64);
  EXPECT_THAT(png.text.at(0).second, HasSubstr("Model: tiny-sd2v.safetensors"));
}

TEST_F(SingleFileCli, SameIdenticalPixelsAsTheFolderWithItsConfig) {
  FTDR_REQUIRE_REFERENCE(root);
  const auto folder =
      generate(config("folder", "path = \"" + (root / "tiny-sd1").string() + "\"\n"), "folder");
  ASSERT_EQ(folder.exit_code, 0) << folder.err;
  const auto file = generate(config("file", "path = \"" + (kData / "tiny-sd1.safetensors").string() +
                                                "\"\nconfig = \"" + (root / "tiny-sd1").string() + "\"\n"),
                             "file");
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(framework::read_png(dir_ / "out" / "file-0.png").image.rgb,
            framework::read_png(dir_ / "out" / "folder-0.png").image.rgb);
}

TEST_F(SingleFileCli, SdxlFileExits2NamingIt) {
  const fs::path sdxl = dir_ / "sdxl.safetensors";
  // The smallest valid safetensors file with one SDXL key.
  const std::string header =
      R"({"conditioner.embedders.0.transformer.x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i)
    bytes[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  write_file(sdxl, bytes + header + std::string(4, '\0'));
  const auto r = generate(config("sdxl", ""), "x", {"--model", sdxl.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("single-file checkpoint " + sdxl.string() +
                               ": cannot be loaded:\n  an SDXL checkpoint"));
}

}  // namespace
}  // namespace ftdr::test
