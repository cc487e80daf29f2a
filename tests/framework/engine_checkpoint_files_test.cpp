// ExecutionEngine and the files it keeps under state_dir: checkpoints go to <state_dir>/jobs/<id>/,
// a folder the engine creates itself and is the only one it removes; a checkpoint the backend
// refuses (made for another request) is dropped and the sub-batch runs afresh.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "framework/scripted_backend.hpp"
#include "ftdr/framework/engine/execution_engine.hpp"

using namespace ftdr::framework;
using ftdr::sdk::ErrorKind;
using ftdr::sdk::Phase;
using ftdr::test::ScriptedBackend;
using ftdr::test::ScriptedRecovery;
using S = ExecutionState;
using States = std::vector<S>;
using Calls = std::vector<std::string>;
namespace fs = std::filesystem;

namespace engine_checkpoint_files_test {
namespace {

ftdr::sdk::GenerationRequest request(int steps) {
  ftdr::sdk::GenerationRequest r;
  r.prompt = "a red square";
  r.width = r.height = 64;
  r.steps = steps;
  return r;
}

States states_of(const JobResult& r) {
  States out;
  for (const auto& s : r.metrics.states) out.push_back(s.state);
  return out;
}

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

std::string read(const fs::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), {}};
}

class EngineFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("ftdr_engine_files_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  ExecutionEngine make(int checkpoint_every) {
    EngineConfig cfg;
    cfg.state_dir = dir.string();
    cfg.checkpoint_every = checkpoint_every;
    return ExecutionEngine(EnginePlugins{backend, nullptr, recovery, nullptr}, cfg);
  }

  JobResult run_to_end(ExecutionEngine& engine, Job& job) {
    for (int i = 0; i < 10; ++i) {
      AttemptOutcome o = engine.run_attempt(job);
      if (o.state != S::retry_pending) return *o.result;
    }
    ADD_FAILURE() << "job never finished";
    return {};
  }

  std::shared_ptr<ScriptedBackend> backend = std::make_shared<ScriptedBackend>();
  std::shared_ptr<ScriptedRecovery> recovery = std::make_shared<ScriptedRecovery>();
  fs::path dir;
};

// state_dir = a user's folder (e.g. "." beside the images) holding a folder named like the job id:
// the job's files go to jobs/<id>/ and at the end only they and that folder are gone.
TEST_F(EngineFilesTest, OnlyTheJobsOwnCheckpointsAndFolderAreRemoved) {
  write(dir / "3" / "photo.txt", "the user's");
  write(dir / "notes.txt", "also the user's");
  ExecutionEngine engine = make(2);
  backend->fail_next(Phase::diffusion, ErrorKind::device_error, /*at_step*/ 3);
  Job job(3, request(4), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed) << r.error_message;
  ASSERT_FALSE(r.metrics.checkpoints.empty());
  for (const auto& file : r.metrics.checkpoints) EXPECT_EQ(fs::path(file).parent_path(), dir / "jobs" / "3");
  EXPECT_EQ(backend->count("load(2)"), 1) << "the retry resumed from the job's own checkpoint";
  EXPECT_FALSE(fs::exists(dir / "jobs" / "3"));
  EXPECT_TRUE(fs::is_directory(dir / "jobs")) << "jobs/ is FTDR's and stays for other processes";
  EXPECT_EQ(read(dir / "3" / "photo.txt"), "the user's");
  EXPECT_EQ(read(dir / "notes.txt"), "also the user's");
}

// A folder at jobs/<id> that the engine did not create (another process's, a user's) is not
// written to and not removed: the job runs without checkpoints.
TEST_F(EngineFilesTest, AnExistingJobFolderIsNeitherUsedNorRemoved) {
  write(dir / "jobs" / "3" / "latents_i0_step2.ckpt", "someone else's");
  ExecutionEngine engine = make(2);
  Job job(3, request(4), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed) << r.error_message;
  EXPECT_TRUE(r.metrics.checkpoints.empty());
  EXPECT_EQ(backend->count("save(2)"), 0);
  EXPECT_EQ(read(dir / "jobs" / "3" / "latents_i0_step2.ckpt"), "someone else's");
}

// Files someone puts into the job's folder while it runs are left, and so is the folder.
TEST_F(EngineFilesTest, FilesTheEngineDidNotWriteKeepTheFolder) {
  ExecutionEngine engine = make(2);
  backend->on_step = [&](int step) {
    if (step == 3) write(dir / "jobs" / "3" / "added.txt", "not FTDR's");
  };
  Job job(3, request(4), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed) << r.error_message;
  ASSERT_FALSE(r.metrics.checkpoints.empty());
  for (const auto& file : r.metrics.checkpoints) EXPECT_FALSE(fs::exists(file)) << file;
  EXPECT_EQ(read(dir / "jobs" / "3" / "added.txt"), "not FTDR's");
}

TEST_F(EngineFilesTest, RefusedCheckpointInDiffusionStartsAfresh) {
  ExecutionEngine engine = make(2);
  backend->refuse_loaded = true;
  backend->fail_next(Phase::diffusion, ErrorKind::device_error, /*at_step*/ 5);
  Job job(3, request(6), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed) << r.error_message;
  EXPECT_EQ(backend->calls(),
            (Calls{"encode", "denoise(first=0,batch=1,from=0)", "save(2)", "save(4)", "load(4)",
                   "denoise(first=0,batch=1,from=4)", "denoise(first=0,batch=1,from=0)", "save(2)", "save(4)",
                   "save(6)", "decode(first=0,batch=1,tiles=0)"}));
  ASSERT_EQ(r.attempts.size(), 1u) << "the refusal is not a failed attempt";
  EXPECT_EQ(r.attempts[0].failure.kind, ErrorKind::device_error);
}

// After a device loss only the final checkpoint is left; refused at decoding, the sub-batch is made
// again (encoding too, the conditioning went with the device) instead of failing as invalid_request.
TEST_F(EngineFilesTest, RefusedFinalCheckpointAtDecodingRunsTheSubBatchAgain) {
  ExecutionEngine engine = make(10);
  recovery->use_resume = true;
  recovery->resume = Phase::initializing;
  backend->refuse_loaded = true;
  backend->fail_next(Phase::decoding, ErrorKind::device_error);
  Job job(5, request(3), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed) << r.error_message;
  EXPECT_EQ(states_of(r), (States{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running,
                                  S::decoding, S::retry_pending, S::initializing, S::decoding,
                                  S::encoding_prompt, S::diffusion_running, S::decoding, S::completed}));
  EXPECT_EQ(backend->calls(),
            (Calls{"encode", "denoise(first=0,batch=1,from=0)", "save(3)", "decode(first=0,batch=1,tiles=0)",
                   "load(3)", "decode(first=0,batch=1,tiles=0)", "encode", "denoise(first=0,batch=1,from=0)",
                   "save(3)", "decode(first=0,batch=1,tiles=0)"}));
  ASSERT_EQ(r.images.size(), 1u);
  ASSERT_EQ(r.attempts.size(), 1u);
}

}  // namespace
}  // namespace engine_checkpoint_files_test
