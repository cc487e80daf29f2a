// `ftdr generate` with the real libtorch plugin on tiny-sd1 and a [faults] config: the injected
// failures are recovered from and the printed attempt history says what happened and what changed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/cli_runner.hpp"
#include "recovery/recovery_rig.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;

std::string cli_config(const std::filesystem::path& dir, const std::filesystem::path& model,
                       const std::string& extra) {
  return "[runtime]\nstate_dir = \"" + (dir / "state").string() + "\"\noutput_dir = \"" +
         (dir / "out").string() + "\"\n[plugins]\nsearch_path = [\"" + std::string(FTDR_PLUGIN_BUILD_DIR) +
         "\"]\n[model]\npath = \"" + model.string() +
         "\"\n[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\ndevice = \"cpu\"\n" +
         "[memory]\npolicy = \"sequential\"\n[generate]\nwidth = 64\nheight = 64\nsteps = 4\ncfg = 1\nseed = "
         "3\n" +
         fast_recovery() + extra;
}

TEST(GenerateFaultsCli, PrintsTheAttemptHistoryOfInjectedFaults) {
  FTDR_REQUIRE_TINY_SD1(model);
  const auto dir = fresh_test_dir();
  write_file(dir / "ftdr.toml",
             cli_config(dir, model, "[faults]\noom = \"diffusion:step=2\"\nnan = \"decode\"\n"));
  auto r = run_ftdr(
      {"generate", "--config", (dir / "ftdr.toml").string(), "--prompt", "a red square", "--prefix", "x"}, {},
      dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr("attempt 1 failed in diffusion: libtorch backend, denoise: CUDA out of memory. "
                        "injected oom at diffusion step 2"));
  EXPECT_THAT(r.err, HasSubstr("→ retry: attention slicing on (slice size: backend's choice)"));
  EXPECT_THAT(r.err, HasSubstr("attempt 2 failed in decoding: "));
  EXPECT_THAT(r.err, HasSubstr("→ retry: VAE upcast to f32, decoding again"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "x-0.png")) << r.out;
}

TEST(GenerateFaultsCli, FaultsThatNeverStopExit3) {
  FTDR_REQUIRE_TINY_SD1(model);
  const auto dir = fresh_test_dir();
  write_file(dir / "ftdr.toml", cli_config(dir, model, "[faults]\ndevice_error = \"encode:times=always\"\n"));
  auto r = run_ftdr({"generate", "--config", (dir / "ftdr.toml").string(), "--prompt", "p"}, {}, dir);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("attempt 3 failed in encoding: "));
  EXPECT_THAT(r.err, HasSubstr("ftdr generate: job failed (device_error): "));
}

}  // namespace
}  // namespace ftdr::test
