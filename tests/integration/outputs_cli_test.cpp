// `ftdr generate` output files (issue 15): a name that is taken is never replaced, concurrent
// runs into one folder keep every image, an unusable output folder is refused before any work,
// and a signal while the model loads exits 4.
#include <csignal>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ftdr/framework/output/png_writer.hpp"
#include "integration/fixture_config.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

class GenerateOutputs : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name()); }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> args(const std::vector<std::string>& flags, const std::string& extra_config = "") {
    std::vector<std::string> a{"generate", "--config", write_fixture_config(dir_, extra_config).string()};
    a.insert(a.end(), flags.begin(), flags.end());
    return a;
  }
  CliResult generate(const std::vector<std::string>& flags) {
    return run_ftdr(args(flags), fixture_env(), dir_);
  }
  // The seed each PNG in the output folder was made with, by file name.
  std::map<std::string, std::uint64_t> seeds() const {
    std::map<std::string, std::uint64_t> out;
    for (const auto& entry : fs::directory_iterator(dir_ / "out")) {
      const auto png = framework::read_png(entry.path());
      out[entry.path().filename().string()] = nlohmann::json::parse(png.text.at(1).second).at("seed");
    }
    return out;
  }
  fs::path dir_;
};

TEST_F(GenerateOutputs, SamePrefixTwiceKeepsBothImages) {
  ASSERT_EQ(generate({"--prompt", "p", "--prefix", "img", "--seed", "1"}).exit_code, 0);
  auto r = generate({"--prompt", "p", "--prefix", "img", "--seed", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr((dir_ / "out" / "img-0-1.png").string() + "\n"));
  EXPECT_EQ(seeds(), (std::map<std::string, std::uint64_t>{{"img-0.png", 1}, {"img-0-1.png", 2}}));
}

TEST_F(GenerateOutputs, FourConcurrentRunsIntoOneFolderKeepFourImages) {
  for (const std::vector<std::string>& naming :
       {std::vector<std::string>{"--prefix", "c"}, std::vector<std::string>{}}) {
    fs::remove_all(dir_ / "out");
    std::vector<std::vector<std::string>> commands;  // all made before any run reads the config
    for (int seed = 1; seed <= 4; ++seed) {
      // Numbered names: the same seed, so all four runs race for "00000-5.png".
      auto flags = naming;
      flags.insert(flags.end(), {"--prompt", "p", "--seed", naming.empty() ? "5" : std::to_string(seed)});
      commands.push_back(args(flags));
    }
    std::vector<std::unique_ptr<CliProcess>> runs;
    for (const auto& command : commands)
      runs.push_back(std::make_unique<CliProcess>(command, fixture_env(), dir_));
    for (auto& run : runs) {
      auto r = run->wait();
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    std::multiset<std::uint64_t> got;
    for (const auto& [name, seed] : seeds()) got.insert(seed);
    if (naming.empty())
      EXPECT_EQ(got, (std::multiset<std::uint64_t>{5, 5, 5, 5}));
    else
      EXPECT_EQ(got, (std::multiset<std::uint64_t>{1, 2, 3, 4}));
  }
}

TEST_F(GenerateOutputs, UnusableOutputFolderExits2BeforeAnyStep) {
  write_file(dir_ / "file", "not a folder");
  const std::string below_a_file = (dir_ / "file" / "sub").string();
  auto r = generate({"--prompt", "p", "--out", below_a_file});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr("ftdr: generate: --out: output folder '" + below_a_file + "': cannot create it: "));
  EXPECT_THAT(r.err, Not(HasSubstr("step ")));
  r = generate({"--prompt", "p", "--out", (dir_ / "file").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--out: output folder '" + (dir_ / "file").string() +
                               "': exists and is not a folder"));
  // The config's folder is named as the config key.
  auto cfg = fixture_config_text(dir_);
  cfg.replace(cfg.find((dir_ / "out").string()), (dir_ / "out").string().size(), below_a_file);
  write_file(dir_ / "bad.toml", cfg);
  r = run_ftdr({"generate", "--config", (dir_ / "bad.toml").string(), "--prompt", "p"}, fixture_env(), dir_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("generate: [runtime] output_dir: output folder '" + below_a_file + "'"));
  EXPECT_THAT(r.err, Not(HasSubstr("step ")));
}

TEST_F(GenerateOutputs, SignalWhileTheModelLoadsExits4) {
  auto a = args({"--prompt", "p", "--log-level", "info"}, "[backend.test_backend]\nload_ms = 60000\n");
  CliProcess p(a, fixture_env(), dir_);
  for (int i = 0; i < 1500 && p.err_so_far().find("loading the model") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string before_signal = p.err_so_far();
  p.signal(SIGTERM);
  auto r = p.wait();
  ASSERT_THAT(before_signal, HasSubstr("loading the model"));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("ftdr generate: cancelled before the job started (interrupted)"));
  EXPECT_TRUE(fs::is_empty(dir_ / "out"));
}

}  // namespace
}  // namespace ftdr::test
