// `ftdr doctor`: loads the configured backend (and model) and prints its diagnostics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/fixture_config.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;

TEST(DoctorCli, PrintsBackendModelAndDiagnostics) {
  auto dir = fresh_dir("doctor");
  auto cfg = write_fixture_config(dir);
  auto r = run_ftdr({"doctor", "--config", cfg.string()}, fixture_env(), dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("config: " + cfg.string() + "\n"));
  EXPECT_THAT(r.out,
              HasSubstr("backend: test_backend (" + fixture_dir() + "/ftdr_plugin_test_backend.so)\n"));
  EXPECT_THAT(r.out, HasSubstr("model: tiny ("));
  EXPECT_THAT(r.out, HasSubstr("component: unet 4 MiB on cpu\n"));
  EXPECT_THAT(r.out, HasSubstr("diagnostics: device: cpu (test_backend fixture)\n"));
  EXPECT_THAT(r.out, HasSubstr("memory: device cpu"));
  std::filesystem::remove_all(dir);
}

TEST(DoctorCli, MissingBackendExits2) {
  auto dir = fresh_dir("doctor_missing");
  auto cfg = write_fixture_config(dir);
  auto r = run_ftdr({"doctor", "--config", cfg.string()}, {}, dir);  // no FTDR_PLUGIN_PATH: no fixture
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no plugin named 'test_backend'"));
  std::filesystem::remove_all(dir);
}

TEST(DoctorCli, LogLevelInfoShowsBackendDiagnosticsDuringGenerate) {
  auto dir = fresh_dir("generate_info");
  auto cfg = write_fixture_config(dir);
  auto r = run_ftdr({"--log-level", "info", "generate", "--config", cfg.string(), "--prompt", "p"},
                    fixture_env(), dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("backend: device: cpu (test_backend fixture)"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ftdr::test
