// The plugin boundary on real shared libraries (tests/fixtures): the host reads a field or calls
// an optional function only when the plugin's ABI minor has it (sdk/version.hpp), and a plugin call
// that throws anything but sdk::Error, in any plugin kind, becomes plugin_error naming the plugin;
// that job is refused or fails cleanly and the next one runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ftdr/framework/config/config_view.hpp"
#include "ftdr/framework/engine/execution_engine.hpp"
#include "ftdr/framework/jobs/job_manager.hpp"
#include "ftdr/framework/plugins/plugin_guard.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"
#include "ftdr/framework/plugins/plugin_set.hpp"

namespace ftdr::framework {
namespace {

using sdk::ErrorKind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::filesystem::path kFixtures = std::filesystem::path(FTDR_BINARY_DIR) / "test-fixtures";

PluginLoader loader() { return PluginLoader(PluginRegistry({kFixtures}), ""); }

template <typename Interface>
std::shared_ptr<Interface> load(const std::string& name, const std::string& toml = "",
                                const std::string& section = "") {
  auto table = toml.empty() ? nullptr : ConfigDocument::parse_string(toml, "/cfg/test.toml")->view(section);
  return loader().create_as<Interface>(name, table);
}

sdk::GenerationRequest request(const std::string& sampler = "default") {
  sdk::GenerationRequest r;
  r.prompt = "a red square";
  r.width = r.height = 16;
  r.steps = 2;
  r.sampler = sampler;
  return r;
}

JobResult run(ExecutionEngine& engine, JobId id, const sdk::GenerationRequest& r = request()) {
  Job job(id, r, sdk::Priority::normal);
  for (int i = 0; i < 5; ++i) {
    AttemptOutcome o = engine.run_attempt(job);
    if (o.state != ExecutionState::retry_pending) return *o.result;
  }
  ADD_FAILURE() << "job never finished";
  return {};
}

// ---- ABI minors ----

TEST(PluginAbi, TheLoadedObjectCarriesItsPluginsAbiVersion) {
  auto backend = load<sdk::ModelBackend>("sdk10_backend");
  const PluginInfo* info = plugin_info_of(*backend);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->name, "sdk10_backend");
  EXPECT_EQ(info->abi_major, 1u);
  EXPECT_EQ(info->abi_minor, 0u);
}

TEST(PluginAbi, EveryObjectOfAPluginSetCarriesItsPluginsAbiVersion) {
  const Config cfg = Config::parse("[backend]\nplugin = \"sdk10_backend\"\n[scheduler]\nplugin = \"fifo\"\n",
                                   std::filesystem::temp_directory_path() / "ftdr_boundary.toml");
  std::vector<std::string> problems;
  const PluginSet set =
      create_plugins(cfg, PluginLoader(PluginRegistry({kFixtures, FTDR_PLUGIN_BUILD_DIR})), problems);
  ASSERT_TRUE(set.complete()) << ::testing::PrintToString(problems);
  for (const sdk::Plugin* object : std::initializer_list<const sdk::Plugin*>{
           set.backend.get(), set.scheduler.get(), set.memory_policy.get(), set.recovery.get(),
           set.tiling.get()}) {
    const PluginInfo* info = plugin_info_of(*object);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->abi_minor, info->name == "sdk10_backend" ? 0u : sdk::kAbiMinor) << info->name;
  }
  EXPECT_EQ(plugin_info_of(*set.backend)->name, "sdk10_backend");
}

TEST(PluginAbi, ABackendBuiltForAbi10NeverHasAFieldOrCallOfALaterMinorRead) {
  auto backend = load<sdk::ModelBackend>("sdk10_backend");
  ExecutionEngine engine({backend, nullptr, nullptr, nullptr});
  // Its ModelInfo::dtype (1.1) holds garbage: the host takes f32 and the job runs at f32 (the
  // fixture's validate() refuses any other dtype).
  EXPECT_EQ(engine.model_info().dtype, sdk::DType::f32);
  // samplers() (1.2) is not asked (the fixture throws if it is): no host-side sampler list, so a
  // name the backend never listed reaches the backend's own validate().
  EXPECT_TRUE(engine.samplers().empty());
  const JobResult r = run(engine, 1, request("euler"));
  EXPECT_TRUE(r.ok()) << r.error_message;
  EXPECT_EQ(r.final_params.options.dtype, sdk::DType::f32);
}

TEST(PluginAbi, A11BackendHasItsDtypeReadButNotThe12Call) {
  auto backend = load<sdk::ModelBackend>("sdk11_backend");
  EXPECT_EQ(backend->info().dtype, sdk::DType::bf16);
  EXPECT_TRUE(backend->samplers().empty());  // the fixture throws if it is asked
}

TEST(PluginAbi, A12BackendsSamplersAreWhatRequestsAreCheckedAgainst) {
  auto backend = load<sdk::ModelBackend>("sdk12_backend");
  auto engine = std::make_shared<ExecutionEngine>(EnginePlugins{backend, nullptr, nullptr, nullptr});
  EXPECT_THAT(engine->samplers(), ElementsAre("only_this"));
  JobManager jobs(load<sdk::JobScheduler>("good_scheduler"), engine);
  try {
    jobs.submit(request("euler"));
    FAIL() << "a sampler the backend does not list was accepted";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_request);
    EXPECT_STREQ(e.what(), "request field 'sampler': expected one of default, only_this, got 'euler'");
  }
  EXPECT_NO_THROW(jobs.submit(request("only_this")));
}

// ---- a throwing call in each plugin kind ----

TEST(PluginThrows, SchedulerPushRefusesThatJobNamingThePluginAndTheNextIsAccepted) {
  auto engine = std::make_shared<ExecutionEngine>(
      EnginePlugins{load<sdk::ModelBackend>("sdk12_backend"), nullptr, nullptr, nullptr});
  JobManager jobs(load<sdk::JobScheduler>("throwing_scheduler"), engine);
  try {
    jobs.submit(request());
    FAIL() << "push() threw but the job was accepted";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::plugin_error);
    EXPECT_THAT(
        e.what(),
        HasSubstr("plugin 'throwing_scheduler' push() threw std::runtime_error: fixture: push fails once"));
  }
  const JobId id = jobs.submit(request());
  auto result = jobs.result(id, std::chrono::minutes(1));
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->ok()) << result->error_message;
}

// Runs two jobs on one engine: the first meets the throw, the second must complete.
void expect_first_fails_then_next_runs(ExecutionEngine& engine, const std::string& message) {
  const JobResult first = run(engine, 1);
  EXPECT_EQ(first.state, ExecutionState::failed);
  EXPECT_EQ(first.error_kind, ErrorKind::plugin_error);
  EXPECT_THAT(first.error_message, HasSubstr(message));
  const JobResult second = run(engine, 2);
  EXPECT_TRUE(second.ok()) << second.error_message;
}

TEST(PluginThrows, MemoryPolicyPlaceFailsTheJobAsPluginError) {
  ExecutionEngine engine({load<sdk::ModelBackend>("sdk12_backend"),
                          load<sdk::MemoryPolicy>("throwing_policy"), nullptr, nullptr});
  expect_first_fails_then_next_runs(
      engine, "plugin 'throwing_policy' place() threw std::runtime_error: fixture: place fails once");
}

TEST(PluginThrows, TilingPlanFailsTheJobAsPluginError) {
  EngineConfig cfg;
  cfg.options.vae_tiling = true;
  ExecutionEngine engine({load<sdk::ModelBackend>("sdk12_backend"), nullptr, nullptr,
                          load<sdk::TilingStrategy>("throwing_tiling")},
                         cfg);
  expect_first_fails_then_next_runs(
      engine, "plugin 'throwing_tiling' plan() threw std::runtime_error: fixture: plan fails once");
}

TEST(PluginThrows, BackendDecodeFailsTheJobAsPluginError) {
  ExecutionEngine engine({load<sdk::ModelBackend>("throwing_backend"), nullptr, nullptr, nullptr});
  expect_first_fails_then_next_runs(
      engine, "plugin 'throwing_backend' decode() threw std::runtime_error: fixture: decode fails once");
}

TEST(PluginThrows, RecoveryDecideEndsTheJobWithItsOwnErrorAndTheReason) {
  auto backend = load<sdk::ModelBackend>("throwing_backend", "fail_encode = true\n");
  ExecutionEngine engine({backend, nullptr, load<sdk::RecoveryStrategy>("throwing_recovery"), nullptr});
  const JobResult first = run(engine, 1);
  EXPECT_EQ(first.state, ExecutionState::failed);
  EXPECT_EQ(first.error_kind, ErrorKind::device_error);  // the failure itself, not the strategy's
  EXPECT_THAT(first.error_message,
              HasSubstr("gave up: the recovery strategy failed: plugin 'throwing_recovery' decide() threw "
                        "std::runtime_error: fixture: decide fails once"));
  // The backend's decode() throws once more (plugin_error); now the strategy answers: retry.
  const JobResult second = run(engine, 2);
  EXPECT_TRUE(second.ok()) << second.error_message;
  ASSERT_EQ(second.attempts.size(), 1u);
  EXPECT_EQ(second.attempts[0].failure.kind, ErrorKind::plugin_error);
}

}  // namespace
}  // namespace ftdr::framework
