// Config parsing: typed values, path resolution, and errors that name file, line, column, key and
// what was expected; unknown keys (host and plugin tables) are errors.
#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ftdr/framework/config/config.hpp"

namespace ftdr::framework {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const fs::path kFile = "/etc/ftdr/test.toml";

// The problems a config text produces (empty when it parses).
std::vector<std::string> problems_of(const std::string& text) {
  try {
    Config::parse(text, kFile);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    return e.problems();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    return {e.what()};
  }
  return {};
}

std::string only_problem(const std::string& text) {
  auto problems = problems_of(text);
  EXPECT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
  return problems.empty() ? "" : problems.front();
}

TEST(Config, EmptyFileGivesTheDocumentedDefaults) {
  Config cfg = Config::parse("", kFile);
  const HostConfig& h = cfg.host();
  EXPECT_EQ(h.file, kFile);
  EXPECT_EQ(h.runtime.workers, 1);
  EXPECT_EQ(h.runtime.queue_capacity, 64);
  EXPECT_EQ(h.runtime.shutdown, ShutdownPolicy::drain);
  EXPECT_EQ(h.runtime.output_dir, fs::current_path() / "outputs");
  EXPECT_EQ(h.backend, "libtorch");
  EXPECT_EQ(h.scheduler, "priority");
  EXPECT_EQ(h.memory.policy, "adaptive");
  EXPECT_EQ(h.recovery, "progressive");
  EXPECT_EQ(h.tiling, "overlap");
  EXPECT_EQ(h.checkpoint.every_steps, 0);
  EXPECT_FALSE(cfg.plugin_table(sdk::PluginKind::backend)->has("faults"));
  EXPECT_EQ(h.generate.steps, 20);
  EXPECT_EQ(h.generate.width, 0) << "0: the model's default size (1024 for SDXL)";
  EXPECT_EQ(h.generate.height, 0);
  EXPECT_TRUE(h.model_path.empty());
  EXPECT_FALSE(cfg.plugin_table(sdk::PluginKind::scheduler)->exists());
}

TEST(Config, ReadsEverySectionAndResolvesPaths) {
  Config cfg = Config::parse(R"(
[runtime]
workers = 3
queue_capacity = 5
shutdown = "cancel"
output_dir = "/data/out"
[plugins]
search_path = ["plug", "/abs/plug"]
[model]
path = "../models/m"
[backend]
plugin = "libtorch"
[backend.libtorch]
device = "cpu"
[scheduler]
plugin = "fifo"
[memory]
policy = "sequential"
device_budget_mb = 3500
warning_pct = 70
critical_pct = 90.5
[checkpoint]
every_steps = 4
[faults]
device_error = "decode:times=2"
[generate]
steps = 7
cfg = 3
sampler = "euler_a"
width = 64
height = 128
seed = 42
)",
                             kFile);
  const HostConfig& h = cfg.host();
  EXPECT_EQ(h.runtime.workers, 3);
  EXPECT_EQ(h.runtime.queue_capacity, 5);
  EXPECT_EQ(h.runtime.shutdown, ShutdownPolicy::cancel);
  EXPECT_EQ(h.runtime.output_dir, fs::path("/data/out"));
  EXPECT_EQ(h.plugin_search_path, (std::vector<fs::path>{"/etc/ftdr/plug", "/abs/plug"}));
  EXPECT_EQ(h.model_path, fs::path("/etc/models/m"));
  EXPECT_EQ(h.scheduler, "fifo");
  EXPECT_EQ(h.plugin_name(sdk::PluginKind::memory_policy), "sequential");
  EXPECT_EQ(h.memory.device_budget_mb, 3500u);
  EXPECT_DOUBLE_EQ(h.memory.critical_pct, 90.5);
  EXPECT_EQ(h.checkpoint.every_steps, 4);
  // [faults] is the backend's: its `faults` sub-table, read there (the host never parses it).
  auto faults = cfg.plugin_table(sdk::PluginKind::backend)->table("faults");
  EXPECT_EQ(faults->get_string("device_error", ""), "decode:times=2");
  EXPECT_EQ(h.generate.steps, 7);
  EXPECT_DOUBLE_EQ(h.generate.cfg_scale, 3.0);  // an integer where a float is asked for
  EXPECT_EQ(h.generate.sampler, "euler_a");
  EXPECT_EQ(h.generate.width, 64);
  EXPECT_EQ(h.generate.height, 128);
  EXPECT_EQ(h.generate.seed, 42u);
  EXPECT_EQ(h.generate.output_dir, "/data/out");
  auto backend = cfg.plugin_table(sdk::PluginKind::backend);
  EXPECT_EQ(backend->section(), "backend.libtorch");
  EXPECT_EQ(backend->get_string("device", "auto"), "cpu");
}

TEST(Config, ParseErrorReportsFileLineColumn) {
  std::string msg = only_problem("[runtime]\nworkers = = 2\n");
  EXPECT_THAT(msg, HasSubstr("/etc/ftdr/test.toml:2:"));
  EXPECT_THAT(msg, HasSubstr("TOML parse error"));
}

TEST(Config, WrongTypeNamesFileLineColumnKeyAndExpectedType) {
  EXPECT_EQ(only_problem("[runtime]\nworkers = \"two\"\n"),
            "/etc/ftdr/test.toml:2:11: key 'runtime.workers': expected an integer (got a string)");
}

TEST(Config, OutOfRangeValueSaysWhatWasExpected) {
  EXPECT_EQ(only_problem("[runtime]\nworkers = 0\n"),
            "/etc/ftdr/test.toml:2:11: key 'runtime.workers': expected an integer in [1, 64] (got 0)");
  EXPECT_EQ(
      only_problem("[runtime]\nshutdown = \"later\"\n"),
      "/etc/ftdr/test.toml:2:12: key 'runtime.shutdown': expected \"drain\" or \"cancel\" (got \"later\")");
}

TEST(Config, QueueFilesIsSharedFolderOrQueue) {
  EXPECT_EQ(Config::parse("", "/etc/ftdr/test.toml").host().queue_files, QueueFiles::shared_folder);
  EXPECT_EQ(Config::parse("[queue]\nfiles = \"queue\"\n", "/etc/ftdr/test.toml").host().queue_files,
            QueueFiles::queue);
  EXPECT_EQ(only_problem("[queue]\nfiles = \"nfs\"\n"),
            "/etc/ftdr/test.toml:2:9: key 'queue.files': expected \"shared_folder\" (every machine sees the "
            "same state_dir and output_dir) or \"queue\" (checkpoints and PNGs kept as blobs in the queue) "
            "(got \"nfs\")");
}

TEST(Config, UnknownHostKeyIsAnErrorListingTheKnownKeys) {
  std::string msg = only_problem("[runtime]\nwokers = 2\n");
  EXPECT_THAT(msg, HasSubstr("/etc/ftdr/test.toml:2:1: unknown key 'runtime.wokers'"));
  EXPECT_THAT(msg, HasSubstr("expected one of: "));
  EXPECT_THAT(msg, HasSubstr("workers"));
}

TEST(Config, UnknownSectionIsAnError) {
  std::string msg = only_problem("[runtim]\nworkers = 2\n");
  EXPECT_THAT(msg, HasSubstr("/etc/ftdr/test.toml:1:2: unknown key 'runtim'"));
}

TEST(Config, TableForAPluginThatIsNotChosenIsAnError) {
  EXPECT_EQ(only_problem("[scheduler]\nplugin = \"fifo\"\n[scheduler.priority]\naging_ms = 5\n"),
            "/etc/ftdr/test.toml:3:1: key 'scheduler.priority': table [scheduler.priority] is not used: "
            "[scheduler] plugin is 'fifo'");
}

TEST(Config, BadPluginNameIsRejected) {
  EXPECT_THAT(
      only_problem("[backend]\nplugin = \"../evil\"\n"),
      HasSubstr("key 'backend.plugin': expected a plugin name of a-z, 0-9, '_' or '-' (got '../evil')"));
}

TEST(Config, GenerateDefaultsFollowTheRequestRules) {
  EXPECT_EQ(only_problem("[generate]\nwidth = 500\n"),
            "/etc/ftdr/test.toml:2:9: key 'generate.width': request field 'width': expected 0 (the model's "
            "default size) or a multiple of 8 in [8, 8192], got 500");
  EXPECT_EQ(only_problem("[generate]\nheight = -64\n"),
            "/etc/ftdr/test.toml:2:10: key 'generate.height': request field 'height': expected 0 (the "
            "model's default size) or a multiple of 8 in [8, 8192], got -64");
  EXPECT_EQ(problems_of("[generate]\nwidth = 0\nheight = 0\n").size(), 0u) << "0: the model's default size";
  EXPECT_THAT(only_problem("[generate]\ncfg = -1\n"),
              HasSubstr(":2:7: key 'generate.cfg': request field 'cfg_scale'"));
  // Sampler names are the backend's (ModelBackend::samplers()): checked when the job is submitted.
  EXPECT_EQ(problems_of("[generate]\nsampler = \"heun\"\n").size(), 0u);
}

TEST(Config, AllProblemsAreReportedTogether) {
  auto problems = problems_of(
      "[runtime]\nworkers = 0\n[memory]\nwarning_pct = 200\n[checkpoint]\nevery_steps = -1\nx = 1\n");
  ASSERT_EQ(problems.size(), 4u) << ::testing::PrintToString(problems);
  EXPECT_THAT(problems[0], HasSubstr("runtime.workers"));
  EXPECT_THAT(problems[1], HasSubstr("memory.warning_pct"));
  EXPECT_THAT(problems[2], HasSubstr("checkpoint.every_steps"));
  EXPECT_THAT(problems[3], HasSubstr("unknown key 'checkpoint.x'"));
}

// A wrong type stops only its own key: the keys after it are still read (never "unknown"), and
// their own problems are still reported (issue 15, defect 5).
TEST(Config, WrongTypeDoesNotMakeTheLaterKeysUnknown) {
  EXPECT_EQ(problems_of("[runtime]\nworkers = \"two\"\nqueue_capacity = 5\nshutdown = \"cancel\"\n"
                        "state_dir = \"s\"\noutput_dir = \"o\"\n"),
            std::vector<std::string>{
                "/etc/ftdr/test.toml:2:11: key 'runtime.workers': expected an integer (got a string)"});
  EXPECT_EQ(problems_of("[generate]\nsteps = \"x\"\ncfg = 3\nsampler = \"euler\"\nwidth = 64\nheight = 64\n"
                        "seed = 1\nbatch = 1\neta = 0\nclip_skip = 1\nnegative_prompt = \"n\"\n"),
            std::vector<std::string>{
                "/etc/ftdr/test.toml:2:9: key 'generate.steps': expected an integer (got a string)"});
  EXPECT_EQ(problems_of("[memory]\nwarning_pct = \"high\"\ncritical_pct = 50\ndevice_budget_mb = 10\n"),
            std::vector<std::string>{
                "/etc/ftdr/test.toml:2:15: key 'memory.warning_pct': expected a number (got a string)"});
}

TEST(Config, EveryProblemOfOneTableIsReported) {
  auto problems = problems_of(
      "[runtime]\nworkers = \"two\"\nqueue_capacity = 0\nwokers = 1\n"
      "[generate]\nwidth = true\nheight = 500\nsteps = 4294967316\n");
  EXPECT_EQ(problems,
            (std::vector<std::string>{
                "/etc/ftdr/test.toml:2:11: key 'runtime.workers': expected an integer (got a string)",
                "/etc/ftdr/test.toml:3:18: key 'runtime.queue_capacity': expected an integer in [1, "
                "1000000] (got 0)",
                "/etc/ftdr/test.toml:8:9: key 'generate.steps': expected an integer in [-2147483648, "
                "2147483647] (got 4294967316)",
                "/etc/ftdr/test.toml:6:9: key 'generate.width': expected an integer (got a boolean)",
                "/etc/ftdr/test.toml:7:10: key 'generate.height': request field 'height': expected 0 (the "
                "model's default size) or a multiple of 8 in [8, 8192], got 500",
                "/etc/ftdr/test.toml:4:1: unknown key 'runtime.wokers' (expected one of: output_dir, "
                "queue_capacity, shutdown, state_dir, workers)"}));
}

// Found by fuzz/config_fuzzer: fs::absolute("") threw std::filesystem::filesystem_error.
TEST(Config, EmptyFolderPathIsRefused) {
  EXPECT_EQ(
      problems_of("[runtime]\noutput_dir = \"\"\nstate_dir = \"\"\n"),
      (std::vector<std::string>{
          "/etc/ftdr/test.toml:3:13: key 'runtime.state_dir': expected a folder path (got an empty string)",
          "/etc/ftdr/test.toml:2:14: key 'runtime.output_dir': expected a folder path (got an empty "
          "string)"}));
}

// A bad plugin choice: which sub-table is the plugin's is unknown, so none is called unused or unknown.
TEST(Config, BadPluginChoiceDoesNotMakeItsTableUnknown) {
  EXPECT_EQ(problems_of("[memory]\npolicy = 3\n[memory.adaptive]\nheadroom_pct = 5\n"),
            std::vector<std::string>{
                "/etc/ftdr/test.toml:2:10: key 'memory.policy': expected a string (got an integer)"});
  EXPECT_EQ(
      problems_of("[scheduler]\nplugin = \"A\"\n[scheduler.fifo]\n"),
      std::vector<std::string>{"/etc/ftdr/test.toml:2:10: key 'scheduler.plugin': expected a plugin name of "
                               "a-z, 0-9, '_' or '-' (got 'A')"});
}

// The top-level [faults] reaches the backend as its `faults` table; keys it never reads are unknown
// when the plugin's table is checked, and a second `faults` inside [backend.<plugin>] is refused.
TEST(Config, FaultsTableIsHandedToTheBackend) {
  Config cfg =
      Config::parse("[backend]\nplugin = \"libtorch\"\n[faults]\noom = \"diffusion:step=7\"\n", kFile);
  auto backend = cfg.plugin_table(sdk::PluginKind::backend);
  ASSERT_TRUE(backend->has("faults"));
  EXPECT_EQ(backend->keys(), std::vector<std::string>{"faults"});
  auto unread = backend->unknown_keys();  // a backend that ignores [faults] is told so
  ASSERT_EQ(unread.size(), 1u);
  EXPECT_THAT(unread[0], HasSubstr(":4:1: unknown key 'faults.oom' (this table takes no keys)"));
  EXPECT_EQ(backend->table("faults")->get_string("oom", ""), "diffusion:step=7");
  EXPECT_TRUE(backend->unknown_keys().empty());
  EXPECT_THAT(
      only_problem("[faults]\noom = \"encode\"\n[backend.libtorch.faults]\nnan = \"decode\"\n"),
      HasSubstr("key 'backend.libtorch.faults': faults are configured in the top-level [faults] table"));
}

TEST(Config, MissingFileIsNamed) {
  try {
    Config::load("/nonexistent/ftdr.toml");
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/ftdr.toml: config file not found");
  }
}

// A folder or a pipe given as the config says what it is, not "not found" (issue 15, defect 5).
TEST(Config, FolderOrPipeAsConfigIsNamedForWhatItIs) {
  const fs::path dir = fs::temp_directory_path() / ("ftdr_config_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path fifo = dir / "pipe.toml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto message_of = [](const fs::path& file) {
    try {
      Config::load(file);
    } catch (const sdk::Error& e) {
      EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  EXPECT_EQ(message_of(dir), dir.string() + ": is a directory, not a config file");
  EXPECT_EQ(message_of(fifo), fifo.string() + ": is not a regular file (a config must be a TOML file)");
  fs::remove_all(dir);
}

TEST(ConfigView, PluginTableRecordsReadsAndReportsTheRest) {
  Config cfg =
      Config::parse("[tiling]\nplugin = \"overlap\"\n[tiling.overlap]\ntile = 64\novelap = 8\n", kFile);
  auto view = cfg.plugin_table(sdk::PluginKind::tiling);
  EXPECT_EQ(view->get_int("tile", 32), 64);
  EXPECT_EQ(view->get_int("overlap", 16), 16);  // absent: the fallback
  EXPECT_EQ(view->unknown_keys(),
            std::vector<std::string>{
                "/etc/ftdr/test.toml:5:1: unknown key 'tiling.overlap.ovelap' (expected one of: "
                "overlap, tile)"});
}

TEST(ConfigView, NestedTablesAndListsAndWhere) {
  auto doc = ConfigDocument::parse_string("[a]\nnames = [\"x\", 2]\n[a.inner]\nflag = true\n", kFile);
  auto a = doc->view("a");
  auto inner = a->table("inner");
  EXPECT_TRUE(inner->get_bool("flag", false));
  EXPECT_TRUE(a->unknown_keys().size() == 1);  // 'names' was never read
  try {
    a->get_string_list("names");
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "/etc/ftdr/test.toml:2:15: key 'a.names[1]': expected a string (got an integer)");
  }
  EXPECT_EQ(a->where("names"), "/etc/ftdr/test.toml:2:9: key 'a.names'");
  EXPECT_EQ(a->where("absent"), "/etc/ftdr/test.toml:1:1: key 'a.absent'");
  EXPECT_TRUE(a->unknown_keys().empty());
  EXPECT_DOUBLE_EQ(inner->get_double("flag2", 1.5), 1.5);
  EXPECT_THROW(inner->get_int("flag", 0), sdk::Error);
}

TEST(Config, WorkersTableIsReadWithItsDefaults) {
  const WorkersConfig defaults = Config::parse("", kFile).host().workers;
  EXPECT_EQ(defaults.count, 0);  // jobs run in the server process
  EXPECT_EQ(defaults.step_timeout_s, 120);
  EXPECT_EQ(defaults.restart_backoff_ms, 500);
  EXPECT_EQ(defaults.restart_backoff_max_ms, 30000);
  EXPECT_EQ(defaults.max_crashes_per_job, 3);
  const WorkersConfig w = Config::parse(
                              "[workers]\ncount = 4\nstep_timeout_s = 2.5\nrestart_backoff_ms = 0\n"
                              "restart_backoff_max_ms = 0\nmax_crashes_per_job = 1\n",
                              kFile)
                              .host()
                              .workers;
  EXPECT_EQ(w.count, 4);
  EXPECT_EQ(w.step_timeout_s, 2.5);
  EXPECT_EQ(w.restart_backoff_ms, 0);
  EXPECT_EQ(w.restart_backoff_max_ms, 0);
  EXPECT_EQ(w.max_crashes_per_job, 1);
  try {
    Config::parse("[workers]\ncount = \"two\"\nsteps = 3\n", kFile);
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'workers.count'"));
    EXPECT_THAT(e.what(), HasSubstr("'workers.steps'"));  // unknown keys are named too
  }
}

TEST(Config, ShippedConfigsParse) {
  for (const char* name : {"default.toml", "lowvram.toml", "cpu.toml"}) {
    SCOPED_TRACE(name);
    Config cfg = Config::load(fs::path(FTDR_SOURCE_DIR) / "configs" / name);
    EXPECT_EQ(cfg.host().model_path, fs::path(FTDR_SOURCE_DIR) / "models" / "ftdr-shapes");
    EXPECT_EQ(cfg.host().backend, "libtorch");
    EXPECT_TRUE(cfg.plugin_table(sdk::PluginKind::backend)->exists());
  }
}

TEST(Config, ModelOptionsAreReadAndChecked) {
  Config cfg = Config::parse(
      "[model]\npath = \"sd.safetensors\"\nvae = \"v.ckpt\"\nconfig = \"cfg\"\n"
      "prediction_type = \"epsilon\"\n",
      kFile);
  EXPECT_EQ(cfg.host().model_path, fs::path("/etc/ftdr/sd.safetensors"));
  EXPECT_EQ(cfg.host().model_vae, fs::path("/etc/ftdr/v.ckpt"));
  EXPECT_EQ(cfg.host().model_config, fs::path("/etc/ftdr/cfg"));
  EXPECT_EQ(cfg.host().model_prediction_type, "epsilon");
  EXPECT_EQ(
      only_problem("[model]\nprediction_type = \"v\"\n"),
      "/etc/ftdr/test.toml:2:19: key 'model.prediction_type': expected \"epsilon\" or \"v_prediction\" (or "
      "absent: the model's own; got \"v\")");
}

}  // namespace
}  // namespace ftdr::framework
