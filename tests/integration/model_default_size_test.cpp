// Issue 13: with no size given anywhere (no flag, no request field, [generate] without width and
// height), a job makes the model's default size (ModelInfo::default_size = the UNet's sample_size x
// the VAE's factor: 1024 for SDXL base) instead of a fixed 512. The tiny SDXL pipeline in the
// libtorch tests' data (sample_size 32, VAE factor 2) has its own default, 64 px: `ftdr generate`,
// POST /v1/jobs and A1111's txt2img all make 64x64 from it, and an explicit size still wins.
// Needs the libtorch plugin: skipped in builds without libtorch.
#include <gtest/gtest.h>

#include "ftdr/framework/output/png_writer.hpp"
#include "integration/cli_runner.hpp"
#include "integration/serve_demo.hpp"
#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kTinySdxl = fs::path(FTDR_SOURCE_DIR) / "plugins/backend/libtorch/tests/data/tiny-sdxl";
constexpr int kTinySdxlDefault = 64;  // unet sample_size 32 x 2 (two VAE levels)

// The tiny SDXL folder on the CPU, 2 steps; `generate` is the [generate] table's extra lines
// (none: the model's default size).
std::string tiny_sdxl_config(const fs::path& dir, const std::string& generate = "") {
  return "[runtime]\nstate_dir = \"" + (dir / "state").string() + "\"\noutput_dir = \"" +
         (dir / "out").string() + "\"\n[plugins]\nsearch_path = [\"" + FTDR_PLUGIN_BUILD_DIR +
         "\"]\n[model]\npath = \"" + kTinySdxl.string() +
         "\"\n[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\ndevice = \"cpu\"\n[memory]\npolicy = "
         "\"sequential\"\n[server]\nlisten = \"127.0.0.1:0\"\n[generate]\nsteps = 2\n" +
         generate;
}

std::pair<int, int> png_file_size(const fs::path& file) {
  const auto png = framework::read_png(file);
  return {png.image.width, png.image.height};
}

class ModelDefaultSize : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!demo_plugin_built()) GTEST_SKIP() << "no libtorch plugin at " << demo_plugin();
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  CliResult generate(const std::string& generate_keys, const std::string& prefix,
                     std::vector<std::string> flags = {}) const {
    const fs::path cfg = dir_ / (prefix + ".toml");
    write_file(cfg, tiny_sdxl_config(dir_, generate_keys));
    std::vector<std::string> a{"generate",     "--config", cfg.string(), "--prompt",
                               "a red circle", "--prefix", prefix};
    a.insert(a.end(), flags.begin(), flags.end());
    return run_ftdr(a, {}, dir_);
  }
  fs::path dir_;
};

TEST_F(ModelDefaultSize, GenerateMakesTheModelsSizeWhenNoneIsGiven) {
  const auto unset = generate("", "unset");
  ASSERT_EQ(unset.exit_code, 0) << unset.err;
  EXPECT_EQ(png_file_size(dir_ / "out" / "unset-0.png"), std::make_pair(kTinySdxlDefault, kTinySdxlDefault));

  const auto zero = generate("width = 0\nheight = 0\n", "zero");
  ASSERT_EQ(zero.exit_code, 0) << zero.err;
  EXPECT_EQ(png_file_size(dir_ / "out" / "zero-0.png"), std::make_pair(kTinySdxlDefault, kTinySdxlDefault));
}

TEST_F(ModelDefaultSize, AGivenSizeWinsAndZeroFlagsAskForTheModels) {
  const auto config = generate("width = 32\nheight = 48\n", "config");
  ASSERT_EQ(config.exit_code, 0) << config.err;
  EXPECT_EQ(png_file_size(dir_ / "out" / "config-0.png"), std::make_pair(32, 48));

  const auto flag = generate("", "flag", {"--width", "48"});
  ASSERT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_EQ(png_file_size(dir_ / "out" / "flag-0.png"), std::make_pair(48, kTinySdxlDefault));

  const auto zero = generate("width = 32\nheight = 48\n", "zeroflags", {"--width", "0", "--height", "0"});
  ASSERT_EQ(zero.exit_code, 0) << zero.err;
  EXPECT_EQ(png_file_size(dir_ / "out" / "zeroflags-0.png"),
            std::make_pair(kTinySdxlDefault, kTinySdxlDefault));
}

TEST_F(ModelDefaultSize, ServeRoutesMakeTheModelsSizeWhenNoneIsGiven) {
  ServeProcess server(dir_ / "serve", tiny_sdxl_config(dir_ / "serve"));
  const int port = server.port();
  EXPECT_EQ(json_of(http(port, "GET", "/v1/models"))["models"][0]["default_size"], kTinySdxlDefault);

  const std::int64_t unset = submit_job(port, {{"prompt", "a red circle"}});
  EXPECT_EQ(png_size(png_of(port, unset)), std::make_pair(kTinySdxlDefault, kTinySdxlDefault));
  EXPECT_EQ(job_status(port, unset)["request"]["width"], kTinySdxlDefault) << "the job keeps the size it ran";
  const std::int64_t sized = submit_job(port, {{"prompt", "a red circle"}, {"width", 32}, {"height", 0}});
  EXPECT_EQ(png_size(png_of(port, sized)), std::make_pair(32, kTinySdxlDefault));

  const HttpReply a1111 = http(port, "POST", "/sdapi/v1/txt2img", R"({"prompt": "a red circle", "seed": 1})");
  ASSERT_EQ(a1111.status, 200) << a1111.body;
  const json answer = json_of(a1111);
  EXPECT_EQ(answer["parameters"]["width"], kTinySdxlDefault);
  EXPECT_EQ(answer["parameters"]["height"], kTinySdxlDefault);
  // Its job is listed with the others (the newest one): the PNG it wrote has that size.
  const json jobs = json_of(http(port, "GET", "/v1/jobs"))["jobs"];
  std::int64_t newest = 0;
  for (const auto& j : jobs) newest = std::max(newest, j["id"].get<std::int64_t>());
  EXPECT_EQ(png_size(png_of(port, newest)), std::make_pair(kTinySdxlDefault, kTinySdxlDefault));
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
