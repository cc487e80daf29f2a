// `ftdr plugins`: lists usable plugins (kind, name, version, ABI, file) and refused ones with why.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/abi_text.hpp"
#include "integration/fixture_config.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(PluginsCli, ListsPluginsAndRefusedOnesWithReasons) {
  auto r = run_ftdr({"plugins"}, fixture_env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("KIND           NAME              VERSION   ABI   FILE\n"));
  EXPECT_THAT(r.out, HasSubstr("scheduler      good_scheduler    0.0.1     " + abi_text() + "   " +
                               fixture_dir() + "/ftdr_plugin_good_scheduler.so\n"));
  EXPECT_THAT(r.out, HasSubstr("backend        test_backend      0.0.1     " + abi_text() + "   "));
  EXPECT_THAT(r.out, HasSubstr("Refused:\n"));
  EXPECT_THAT(r.out, HasSubstr(fixture_dir() + "/ftdr_plugin_abi_major.so: built for FTDR SDK ABI 2.0"));
  EXPECT_THAT(r.out,
              HasSubstr(fixture_dir() + "/ftdr_plugin_no_create.so: not an FTDR plugin: it does not export "
                                        "'ftdr_plugin_create'"));
  EXPECT_THAT(r.out, HasSubstr("Search path:\n  " + fixture_dir() + "\n"));
}

TEST(PluginsCli, BuildTreeFolderHoldsNoFixtures) {
  auto r = run_ftdr({"plugins"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("test-fixtures")));
  EXPECT_THAT(r.out, Not(HasSubstr("Refused:")));
  EXPECT_THAT(r.out, HasSubstr(std::string(FTDR_PLUGIN_BUILD_DIR)));
  // The queue plugin `ftdr serve` uses by default ([queue] plugin = "local").
  EXPECT_THAT(r.out, HasSubstr("queue          local             1.0.0     " + abi_text() + "   " +
                               std::string(FTDR_PLUGIN_BUILD_DIR) + "/ftdr_plugin_local.so\n"));
}

}  // namespace
}  // namespace ftdr::test
