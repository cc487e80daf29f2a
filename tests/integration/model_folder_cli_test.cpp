// `ftdr generate` on the real libtorch plugin with a copy of the demo model (models/ftdr-shapes):
// a model folder with one broken field exits 2 at load, naming the file and the key (nothing is
// allocated from an absurd config, no job runs); SIGINT while a step runs exits 4.
// Needs the libtorch plugin: skipped in builds without libtorch (FTDR_WITH_LIBTORCH off).
#include <csignal>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/cli_runner.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kPlugin = fs::path(FTDR_PLUGIN_BUILD_DIR) / "ftdr_plugin_libtorch.so";

class ModelFolderCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kPlugin)) GTEST_SKIP() << "no libtorch plugin at " << kPlugin;
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    model_ = dir_ / "model";
    fs::copy(fs::path(FTDR_SOURCE_DIR) / "models" / "ftdr-shapes", model_, fs::copy_options::recursive);
    write_file(dir_ / "ftdr.toml",
               "[runtime]\nstate_dir = \"" + (dir_ / "state").string() + "\"\noutput_dir = \"" +
                   (dir_ / "out").string() + "\"\n[plugins]\nsearch_path = [\"" + FTDR_PLUGIN_BUILD_DIR +
                   "\"]\n[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\ndevice = \"cpu\"\n"
                   "[memory]\npolicy = \"sequential\"\n[generate]\nsteps = 2\ncfg = 1\n");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void edit(const std::string& rel, const std::string& key, const json& value) {
    json j;
    std::ifstream(model_ / rel) >> j;
    j[key] = value;
    std::ofstream(model_ / rel) << j.dump(2);
  }
  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"generate",    "--config",      (dir_ / "ftdr.toml").string(),
                               "--model",     model_.string(), "--prompt",
                               "a red circle"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // One broken field: exit 2, the file and the key named, no image.
  void expect_refused_at_load(const std::string& rel, const std::string& key, const json& value) {
    SCOPED_TRACE(rel + " " + key + " = " + value.dump());
    edit(rel, key, value);
    auto r = run_ftdr(args(), {}, dir_);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr((model_ / rel).string()));
    EXPECT_THAT(r.err, HasSubstr(key));
    EXPECT_THAT(r.err, ::testing::Not(HasSubstr("job failed")));
    EXPECT_TRUE(no_images()) << r.out;
  }
  bool no_images() const { return !fs::exists(dir_ / "out") || fs::is_empty(dir_ / "out"); }
  fs::path dir_, model_;
};

TEST_F(ModelFolderCli, TheIntactCopyGenerates) {
  auto r = run_ftdr(args({"--width", "64", "--height", "64", "--prefix", "ok"}), {}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "ok-0.png")) << r.out;
}

TEST_F(ModelFolderCli, HugeLayersPerBlockExits2AtLoad) {
  expect_refused_at_load("unet/config.json", "layers_per_block", 1000000);
}

TEST_F(ModelFolderCli, HugeChannelCountExits2AtLoad) {
  expect_refused_at_load("vae/config.json", "block_out_channels", {16, 32, 1 << 30});
}

TEST_F(ModelFolderCli, NegativeSampleSizeExits2AtLoad) {
  expect_refused_at_load("unet/config.json", "sample_size", -1);
}

TEST_F(ModelFolderCli, TextEncoderLayerCountOfTheWrongTypeExits2AtLoad) {
  expect_refused_at_load("text_encoder/config.json", "num_hidden_layers", 2.5);
}

TEST_F(ModelFolderCli, SchedulerConfigErrorExits2AtLoad) {
  expect_refused_at_load("scheduler/scheduler_config.json", "beta_schedule", "cosine");
}

TEST_F(ModelFolderCli, ModelMaxLengthPastTheTextEncoderExits2AtLoad) {
  expect_refused_at_load("tokenizer/tokenizer_config.json", "model_max_length", 78);
}

TEST_F(ModelFolderCli, EmptyMergesExits2AtLoad) {
  std::ofstream(model_ / "tokenizer" / "merges.txt", std::ios::trunc) << "#version: 0.2\n";
  auto r = run_ftdr(args(), {}, dir_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr((model_ / "tokenizer" / "merges.txt").string() + ": no merges"));
}

TEST_F(ModelFolderCli, SigintDuringAStepExits4) {
  CliProcess p(args({"--width", "512", "--height", "512", "--steps", "200"}), {}, dir_);
  for (int i = 0; i < 3000 && p.err_so_far().find("step 1/200") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  p.signal(SIGINT);
  auto r = p.wait();
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("ftdr generate: cancelled: job "));
  EXPECT_TRUE(no_images()) << r.out;
}

}  // namespace
}  // namespace ftdr::test
