// `ftdr generate` end to end on the test_backend fixture: JobManager + ExecutionEngine + PNG
// output with metadata, byte-identical reruns, injected faults (retried or final: exit 3), and
// SIGINT cancelling the job (exit 4).
#include <csignal>
#include <fstream>
#include <iterator>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ftdr/framework/output/png_writer.hpp"
#include "integration/fixture_config.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class GenerateCli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name()); }
  void TearDown() override { fs::remove_all(dir_); }
  CliResult generate(const std::string& extra_config, std::vector<std::string> flags) {
    auto cfg = write_fixture_config(dir_, extra_config);
    std::vector<std::string> args{"generate", "--config", cfg.string()};
    args.insert(args.end(), flags.begin(), flags.end());
    return run_ftdr(args, fixture_env(), dir_);
  }
  static std::string bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  fs::path dir_;
};

TEST_F(GenerateCli, WritesPngsWithMetadataAndPrintsPathsAndTimings) {
  auto r = generate(
      "", {"--prompt", "a red circle", "--negative-prompt", "blue", "--batch", "2", "--prefix", "img"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path first = dir_ / "out" / "img-0.png", second = dir_ / "out" / "img-1.png";
  EXPECT_THAT(r.out, HasSubstr(first.string() + "\n" + second.string() + "\n"));
  EXPECT_THAT(r.out, HasSubstr("timings: initializing "));
  EXPECT_THAT(r.out, HasSubstr(" diffusion "));
  EXPECT_THAT(r.out, HasSubstr(" decoding "));
  auto png = framework::read_png(second);
  EXPECT_EQ(png.image.width, 16);
  EXPECT_EQ(png.image.height, 8);
  ASSERT_EQ(png.text.size(), 2u);
  EXPECT_EQ(png.text[0].first, "parameters");
  EXPECT_THAT(png.text[0].second,
              HasSubstr("a red circle\nNegative prompt: blue\nSteps: 3, Sampler: Euler, "
                        "CFG scale: 7.5, Seed: 8, Size: 16x8, Model: tiny, Batch size: 2, "
                        "Batch pos: 1"));
  EXPECT_EQ(png.text[1].first, "ftdr_request");
  auto request = nlohmann::json::parse(png.text[1].second);
  EXPECT_EQ(request.at("prompt"), "a red circle");
  EXPECT_EQ(request.at("batch"), 2);
  EXPECT_EQ(request.at("seed"), 7);
}

TEST_F(GenerateCli, SameRequestGivesByteIdenticalFilesInAnyFolder) {
  ASSERT_EQ(generate("", {"--prompt", "p", "--prefix", "a"}).exit_code, 0);
  ASSERT_EQ(generate("", {"--prompt", "p", "--prefix", "a", "--out", (dir_ / "again").string()}).exit_code,
            0);
  // Issue 15: `ftdr_request` held the absolute output folder, so the bytes differed per folder.
  EXPECT_EQ(bytes(dir_ / "out" / "a-0.png"), bytes(dir_ / "again" / "a-0.png"));
  const std::string request = framework::read_png(dir_ / "out" / "a-0.png").text.at(1).second;
  EXPECT_FALSE(nlohmann::json::parse(request).contains("output_dir")) << request;
  EXPECT_EQ(request.find(dir_.string()), std::string::npos) << request;
}

TEST_F(GenerateCli, NumberedNamesWithoutPrefix) {
  auto r = generate("", {"--prompt", "p", "--seed", "42"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "00000-42.png")) << r.out;
  r = generate("", {"--prompt", "p", "--seed", "42"});
  EXPECT_TRUE(fs::exists(dir_ / "out" / "00001-42.png")) << r.out;
}

TEST_F(GenerateCli, RetriedFaultStillCompletes) {
  auto r = generate("[faults]\ndevice_error = \"diffusion:step=2\"\n", {"--prompt", "p", "--prefix", "f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("attempt 1 failed in diffusion: injected device_error at diffusion step 2"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "f-0.png"));
}

TEST_F(GenerateCli, FaultsFromTheEnvironmentToo) {
  auto env = fixture_env();
  env["FTDR_FAULTS"] = "oom=decode";
  auto r =
      run_ftdr({"generate", "--config", write_fixture_config(dir_).string(), "--prompt", "p"}, env, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("attempt 1 failed in decoding: out of memory: injected oom at decoding"));
}

TEST_F(GenerateCli, PermanentFailureExits3) {
  auto r = generate("[faults]\noom = \"encode:times=always\"\n", {"--prompt", "p"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(
      r.err, HasSubstr("ftdr generate: job failed (out_of_memory): out of memory: injected oom at encoding"));
}

TEST_F(GenerateCli, SigintCancelsTheJobWithExit4) {
  auto cfg = write_fixture_config(dir_, "[backend.test_backend]\nstep_ms = 20\n");
  CliProcess p({"generate", "--config", cfg.string(), "--prompt", "p", "--steps", "500"}, fixture_env(),
               dir_);
  for (int i = 0; i < 200 && p.err_so_far().find("step 2/500") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  p.signal(SIGINT);
  auto r = p.wait();
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("ftdr generate: cancelled"));
}

// Sampler names are the backend's (ModelBackend::samplers()): checked once it is loaded.
TEST_F(GenerateCli, UnknownSamplerExits2ListingTheBackendsSamplers) {
  auto r = generate("", {"--prompt", "p", "--sampler", "heun"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--sampler: expected one of default, pndm, ddim, euler, euler_a, dpmpp_2m, "
                               "dpmpp_2m_karras, lms, got 'heun'"));
}

TEST_F(GenerateCli, MissingModelExits2) {
  auto r = generate("", {"--prompt", "p", "--model", (dir_ / "nomodel").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("[model] path: " + (dir_ / "nomodel").string() + " is not a folder"));
}

TEST_F(GenerateCli, BrokenPluginConfigExits2) {
  auto r = generate("[backend.test_backend]\nstep_ms = -5\n", {"--prompt", "p"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("plugin 'test_backend'"));
  EXPECT_THAT(r.err, HasSubstr("rejected its config"));
  EXPECT_THAT(r.err, HasSubstr("key 'backend.test_backend.step_ms': expected milliseconds >= 0"));
}

}  // namespace
}  // namespace ftdr::test
