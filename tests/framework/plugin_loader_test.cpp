// The plugin loader against real shared libraries: the good fixture and each broken one
// (tests/fixtures), checking that every error names the file and says what is wrong.
#include <dlfcn.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/abi_text.hpp"
#include "ftdr/framework/config/config_view.hpp"
#include "ftdr/framework/plugins/plugin_call.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"

namespace ftdr::framework {
namespace plugin_loader_test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(FTDR_BINARY_DIR) / "test-fixtures";

fs::path fixture(const std::string& name) { return kFixtures / plugin_file_name(name); }

PluginLoader fixture_loader() { return PluginLoader(PluginRegistry({kFixtures}), "/tmp/state"); }

std::shared_ptr<TomlConfigView> table(const std::string& toml, const std::string& section) {
  return ConfigDocument::parse_string(toml, "/cfg/test.toml")->view(section);
}

// Runs fn, expects an sdk::Error of plugin_error, returns its message.
template <typename Fn>
std::string plugin_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::plugin_error) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

TEST(PluginLoader, CreatesAWorkingObjectOfTheRequestedInterface) {
  auto sched = fixture_loader().create_as<sdk::JobScheduler>("good_scheduler", nullptr);
  ASSERT_NE(sched, nullptr);
  sched->push({1, sdk::Priority::normal, 1, 0});
  sched->push({2, sdk::Priority::normal, 2, 0});
  EXPECT_EQ(sched->pop_next(0), std::optional<std::uint64_t>(2));
  EXPECT_EQ(sched->size(), 1u);
}

TEST(PluginLoader, LibraryStaysLoadedWhileAnObjectLivesAndUnloadsAfter) {
  const std::string path = fixture("good_scheduler").string();
  auto sched = fixture_loader().create_as<sdk::JobScheduler>("good_scheduler", nullptr);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr) << "library not loaded while its object lives";
  dlclose(handle);
  sched.reset();
  handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_EQ(handle, nullptr) << "library still loaded after its last object died";
  if (handle) dlclose(handle);
}

TEST(PluginLoader, NoSuchPluginListsFoldersSearchedAndPluginsFound) {
  PluginLoader loader(PluginRegistry({kFixtures, "/nonexistent/plugins"}));
  std::string msg = plugin_error_of([&] { loader.create(sdk::PluginKind::scheduler, "nope", nullptr); });
  EXPECT_THAT(msg, HasSubstr("no plugin named 'nope'"));
  EXPECT_THAT(msg, HasSubstr("ftdr_plugin_nope.so"));
  EXPECT_THAT(msg, HasSubstr(kFixtures.string()));
  EXPECT_THAT(msg, HasSubstr("/nonexistent/plugins (missing)"));
  EXPECT_THAT(msg, HasSubstr("plugins found: abi_major, abi_minor, factory_throws"));
  EXPECT_THAT(msg, HasSubstr("good_scheduler"));
}

TEST(PluginLoader, WrongKindNamesBothKindsAndTheFile) {
  std::string msg =
      plugin_error_of([] { fixture_loader().create(sdk::PluginKind::backend, "good_scheduler", nullptr); });
  EXPECT_THAT(msg, HasSubstr("plugin 'good_scheduler' (" + fixture("good_scheduler").string() + ")"));
  EXPECT_THAT(msg, HasSubstr("is a scheduler plugin, but a backend plugin was asked for"));
}

TEST(PluginLoader, ObjectOfAnotherInterfaceThanItsDescriptorSays) {
  std::string msg =
      plugin_error_of([] { fixture_loader().create_as<sdk::TilingStrategy>("wrong_interface", nullptr); });
  EXPECT_THAT(msg, HasSubstr(fixture("wrong_interface").string()));
  EXPECT_THAT(msg,
              HasSubstr("says it is a tiling plugin, but create() returned an object of another interface"));
}

TEST(PluginLoader, OtherAbiMajorIsRefusedNamingFileAndBothVersions) {
  std::string msg =
      plugin_error_of([] { fixture_loader().create(sdk::PluginKind::scheduler, "abi_major", nullptr); });
  EXPECT_THAT(msg, HasSubstr(fixture("abi_major").string()));
  EXPECT_THAT(msg, HasSubstr("built for FTDR SDK ABI " + std::to_string(sdk::kAbiMajor + 1) + ".0"));
  EXPECT_THAT(msg, HasSubstr("this host has SDK ABI " + abi_string(sdk::kAbiMajor, sdk::kAbiMinor)));
}

TEST(PluginLoader, NewerAbiMinorIsRefused) {
  std::string msg =
      plugin_error_of([] { fixture_loader().create(sdk::PluginKind::scheduler, "abi_minor", nullptr); });
  EXPECT_THAT(msg, HasSubstr(fixture("abi_minor").string()));
  EXPECT_THAT(msg, HasSubstr("built for FTDR SDK ABI " + abi_string(sdk::kAbiMajor, sdk::kAbiMinor + 1)));
  EXPECT_THAT(msg, HasSubstr("minor <= " + std::to_string(sdk::kAbiMinor)));
}

TEST(PluginLoader, MissingExportIsNamed) {
  std::string msg =
      plugin_error_of([] { fixture_loader().create(sdk::PluginKind::scheduler, "no_create", nullptr); });
  EXPECT_THAT(msg, HasSubstr(fixture("no_create").string()));
  EXPECT_THAT(msg, HasSubstr("does not export 'ftdr_plugin_create'"));
}

TEST(PluginLoader, FileThatIsNotASharedLibraryGivesTheLoadersReason) {
  std::string msg =
      plugin_error_of([] { fixture_loader().create(sdk::PluginKind::scheduler, "not_elf", nullptr); });
  EXPECT_THAT(msg, HasSubstr(fixture("not_elf").string() + ": cannot load the library: "));
  EXPECT_THAT(msg, HasSubstr("ftdr_plugin_not_elf.so"));  // dlerror() repeats the file
}

TEST(PluginLoader, FactoryThatThrowsIsReportedWithItsMessage) {
  std::string msg =
      plugin_error_of([] { fixture_loader().create(sdk::PluginKind::scheduler, "factory_throws", nullptr); });
  EXPECT_THAT(msg, HasSubstr("plugin 'factory_throws' (" + fixture("factory_throws").string() + ")"));
  EXPECT_THAT(msg, HasSubstr("create() threw"));
  EXPECT_THAT(msg, HasSubstr("fixture factory failed on purpose"));
}

TEST(PluginLoader, ConfigThePluginRejectsKeepsItsMessage) {
  auto cfg = table("[scheduler.rejects_config]\nlimit = -3\n", "scheduler.rejects_config");
  std::string msg =
      plugin_error_of([&] { fixture_loader().create(sdk::PluginKind::scheduler, "rejects_config", cfg); });
  EXPECT_THAT(msg, HasSubstr("plugin 'rejects_config' (" + fixture("rejects_config").string() +
                             ") rejected its config"));
  EXPECT_THAT(
      msg, HasSubstr("/cfg/test.toml:2:9: key 'scheduler.rejects_config.limit': expected an integer >= 0"));
}

TEST(PluginLoader, AcceptedConfigCreatesTheObject) {
  auto cfg = table("[scheduler.rejects_config]\nlimit = 3\n", "scheduler.rejects_config");
  auto sched = fixture_loader().create_as<sdk::JobScheduler>("rejects_config", cfg);
  EXPECT_NE(sched, nullptr);
}

TEST(PluginLoader, UnknownKeysInThePluginsTableAreReportedAfterCreate) {
  auto cfg = table("[scheduler.rejects_config]\nlimit = 1\nlimitt = 2\n", "scheduler.rejects_config");
  std::string msg =
      plugin_error_of([&] { fixture_loader().create(sdk::PluginKind::scheduler, "rejects_config", cfg); });
  EXPECT_THAT(msg, HasSubstr("does not know these keys of [scheduler.rejects_config]"));
  EXPECT_THAT(
      msg, HasSubstr(
               "/cfg/test.toml:3:1: unknown key 'scheduler.rejects_config.limitt' (expected one of: limit)"));
}

TEST(PluginLoader, FileNamedForAnotherPluginIsRefused) {
  std::string msg =
      plugin_error_of([] { fixture_loader().create(sdk::PluginKind::scheduler, "misnamed", nullptr); });
  EXPECT_THAT(msg, HasSubstr(fixture("misnamed").string()));
  EXPECT_THAT(msg, HasSubstr("named for plugin 'misnamed' but the plugin calls itself 'other'"));
}

TEST(PluginRegistry, ScanListsGoodPluginsAndRefusesBrokenOnesWithReasons) {
  PluginListing listing = PluginRegistry({kFixtures}).scan();
  std::vector<std::string> names;
  for (const auto& p : listing.plugins) names.push_back(p.name);
  // Loadable: the good one and those whose problem shows only at create().
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("good_scheduler", "factory_throws", "wrong_interface",
                                                     "rejects_config", "test_backend", "sdk10_backend",
                                                     "sdk11_backend", "sdk12_backend", "throwing_scheduler",
                                                     "throwing_policy", "throwing_recovery",
                                                     "throwing_tiling", "throwing_backend"));
  std::map<std::string, std::string> reasons;
  for (const auto& r : listing.refused) reasons[plugin_name_from_file(r.file)] = r.reason;
  EXPECT_THAT(reasons["abi_major"], HasSubstr("built for FTDR SDK ABI 2.0"));
  EXPECT_THAT(reasons["abi_minor"],
              HasSubstr("built for FTDR SDK ABI " + test::abi_text(sdk::kAbiMajor, sdk::kAbiMinor + 1)));
  EXPECT_THAT(reasons["no_create"], HasSubstr("does not export 'ftdr_plugin_create'"));
  EXPECT_THAT(reasons["not_elf"], HasSubstr("cannot load the library"));
  EXPECT_THAT(reasons["misnamed"], HasSubstr("calls itself 'other'"));
  EXPECT_EQ(reasons.size(), 5u);
  for (const auto& p : listing.plugins)
    if (p.name == "good_scheduler") {
      EXPECT_EQ(p.kind, sdk::PluginKind::scheduler);
      EXPECT_EQ(p.version, "0.0.1");
      EXPECT_EQ(p.file, fixture("good_scheduler"));
    }
}

TEST(PluginRegistry, EarlierFolderShadowsLaterOne) {
  PluginListing listing = PluginRegistry({kFixtures, kFixtures / "."}).scan();
  bool shadowed = false;
  for (const auto& r : listing.refused)
    shadowed =
        shadowed || r.reason.find("shadowed by " + fixture("good_scheduler").string()) != std::string::npos;
  EXPECT_TRUE(shadowed);
}

TEST(PluginRegistry, DefaultSearchPathOrder) {
  ::setenv("FTDR_PLUGIN_PATH", "/env/a::/env/b", 1);
  auto path = PluginRegistry::default_search_path({"/cfg/plugins"});
  ::unsetenv("FTDR_PLUGIN_PATH");
  ASSERT_GE(path.size(), 5u);
  EXPECT_EQ(path[0], fs::path("/cfg/plugins"));
  EXPECT_EQ(path[1], fs::path("/env/a"));
  EXPECT_EQ(path[2], fs::path("/env/b"));
  EXPECT_EQ(path.back(), fs::weakly_canonical(FTDR_PLUGIN_BUILD_DIR));
}

TEST(PluginCall, NonSdkExceptionBecomesPluginErrorNamingThePlugin) {
  auto sched = fixture_loader().create_as<sdk::JobScheduler>("good_scheduler", nullptr);
  std::string msg =
      plugin_error_of([&] { plugin_call("good_scheduler", "erase", [&] { return sched->erase(0); }); });
  EXPECT_THAT(msg, HasSubstr("plugin 'good_scheduler' erase() threw"));
  EXPECT_THAT(msg, HasSubstr("fixture trap: erase(0)"));
  EXPECT_FALSE(plugin_call("good_scheduler", "erase", [&] { return sched->erase(7); }));
}

TEST(PluginCall, SdkErrorsPassThroughUnchanged) {
  try {
    plugin_call("x", "f", []() -> int { throw sdk::Error(sdk::ErrorKind::out_of_memory, "oom"); });
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::out_of_memory);
    EXPECT_STREQ(e.what(), "oom");
  }
}

}  // namespace
}  // namespace plugin_loader_test
}  // namespace ftdr::framework
