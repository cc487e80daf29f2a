// A plugin built out of tree against the INSTALLED SDK alone: install the sdk and ftdr components
// to a temporary prefix, configure and build examples/third_party_plugin with
// -DCMAKE_PREFIX_PATH=<prefix>, install it there, then find it with the installed `ftdr plugins`
// and load and run it through the loader (push/pop order, its config key, unknown keys).
#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/abi_text.hpp"
#include "ftdr/framework/config/config_view.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"
#include "integration/cli_runner.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class ThirdPartyPlugin : public ::testing::Test {
 protected:
  // Install + out-of-tree build once for the suite (it is the slow part: ~10 s).
  static void SetUpTestSuite() {
    root_ = new fs::path(fresh_dir("third_party"));
    const fs::path prefix = *root_ / "prefix", build = *root_ / "build", log = *root_ / "log.txt";
    const std::string to_log = " >> '" + log.string() + "' 2>&1";
    const std::vector<std::string> steps{
        "cmake --install '" FTDR_BINARY_DIR "' --prefix '" + prefix.string() + "' --component sdk",
        "cmake --install '" FTDR_BINARY_DIR "' --prefix '" + prefix.string() + "' --component ftdr",
        "cmake -S '" FTDR_SOURCE_DIR "/examples/third_party_plugin' -B '" + build.string() +
            "' -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH='" + prefix.string() + "'",
        "cmake --build '" + build.string() + "'",
        "cmake --install '" + build.string() + "' --prefix '" + prefix.string() + "'",
    };
    for (const auto& step : steps) {
      if (std::system((step + to_log).c_str()) != 0) {
        *failure_ = "step failed: " + step + " (log: " + log.string() + ")";
        return;
      }
    }
  }
  static void TearDownTestSuite() {
    if (failure_->empty()) fs::remove_all(*root_);
    delete root_;
  }
  void SetUp() override { ASSERT_TRUE(failure_->empty()) << *failure_; }

  static fs::path prefix() { return *root_ / "prefix"; }
  static fs::path plugin_dir() { return prefix() / "lib" / "ftdr" / "plugins"; }

  static fs::path* root_;
  static std::string* failure_;
};
fs::path* ThirdPartyPlugin::root_ = nullptr;
std::string* ThirdPartyPlugin::failure_ = new std::string;

// One test, in steps: ctest runs every test in its own process, and each would pay for the build.
void expect_install_layout(const fs::path& prefix, const fs::path& plugin_dir) {
  EXPECT_TRUE(fs::is_regular_file(prefix / "bin" / "ftdr"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "include" / "ftdr" / "sdk" / "plugin.hpp"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "lib" / "cmake" / "FtdrSdk" / "FtdrSdkConfig.cmake"));
  EXPECT_TRUE(fs::is_regular_file(plugin_dir / "ftdr_plugin_lifo.so"));
}

void expect_installed_host_finds_it(const fs::path& prefix, const fs::path& plugin_dir, const fs::path& io) {
  auto r = CliProcess({"plugins"}, {}, io, (prefix / "bin" / "ftdr").string()).wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("scheduler      lifo              1.0.0     " + abi_text() + "   " +
                               (plugin_dir / "ftdr_plugin_lifo.so").lexically_normal().string()));
}

void expect_lifo_order(const fs::path& plugin_dir) {
  framework::PluginLoader loader(framework::PluginRegistry({plugin_dir}));
  auto doc = framework::ConfigDocument::parse_string("[scheduler.lifo]\nmax_waiting = 3\n", "/t/lifo.toml");
  auto sched = loader.create_as<sdk::JobScheduler>("lifo", doc->view("scheduler.lifo"));
  for (std::uint64_t id = 1; id <= 3; ++id) sched->push({id, sdk::Priority::normal, id, 0});
  EXPECT_EQ(sched->snapshot(0), (std::vector<std::uint64_t>{3, 2, 1}));
  EXPECT_THROW(sched->push({4, sdk::Priority::normal, 4, 0}), sdk::Error);  // max_waiting = 3
  EXPECT_EQ(sched->pop_next(0), std::optional<std::uint64_t>(3));
  EXPECT_TRUE(sched->erase(1));
  EXPECT_EQ(sched->pop_next(0), std::optional<std::uint64_t>(2));
  EXPECT_EQ(sched->pop_next(0), std::nullopt);
}

void expect_config_checked(const fs::path& plugin_dir) {
  framework::PluginLoader loader(framework::PluginRegistry({plugin_dir}));
  auto doc = framework::ConfigDocument::parse_string("[scheduler.lifo]\nmax_wait = 3\n", "/t/lifo.toml");
  try {
    loader.create(sdk::PluginKind::scheduler, "lifo", doc->view("scheduler.lifo"));
    ADD_FAILURE() << "unknown key accepted";
  } catch (const sdk::Error& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("/t/lifo.toml:2:1: unknown key 'scheduler.lifo.max_wait' (expected one of: "
                          "max_waiting)"));
  }
}

TEST_F(ThirdPartyPlugin, BuiltAgainstTheInstalledSdkItLoadsAndRuns) {
  SCOPED_TRACE("install layout");
  expect_install_layout(prefix(), plugin_dir());
  SCOPED_TRACE("installed `ftdr plugins` finds it beside itself");
  expect_installed_host_finds_it(prefix(), plugin_dir(), *root_);
  SCOPED_TRACE("loads through the loader and schedules last in, first out");
  expect_lifo_order(plugin_dir());
  SCOPED_TRACE("its table is checked for unknown keys");
  expect_config_checked(plugin_dir());
}

}  // namespace
}  // namespace ftdr::test
