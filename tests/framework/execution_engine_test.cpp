// ExecutionEngine on the scripted backend: exact state sequences for success, failure, retry,
// resume, split batches; classification, watchdogs, placement, tiling, checkpoints.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "framework/scripted_backend.hpp"
#include "ftdr/framework/engine/execution_engine.hpp"

using namespace ftdr::framework;
using ftdr::sdk::ErrorKind;
using ftdr::sdk::Phase;
using ftdr::test::ScriptedBackend;
using ftdr::test::ScriptedRecovery;
using S = ExecutionState;
using States = std::vector<S>;

namespace execution_engine_test {
namespace {

ftdr::sdk::GenerationRequest request(int steps = 4, int batch = 1) {
  ftdr::sdk::GenerationRequest r;
  r.prompt = "a red square";
  r.width = r.height = 64;
  r.steps = steps;
  r.batch = batch;
  return r;
}

States states_of(const JobResult& r) {
  States out;
  for (const auto& s : r.metrics.states) out.push_back(s.state);
  return out;
}

// Runs attempts until a terminal state, as the JobManager would (without the timer).
JobResult run_to_end(ExecutionEngine& engine, Job& job, int max_attempts = 20) {
  for (int i = 0; i < max_attempts; ++i) {
    AttemptOutcome o = engine.run_attempt(job);
    if (o.state != S::retry_pending) {
      EXPECT_TRUE(o.result.has_value());
      return *o.result;
    }
  }
  ADD_FAILURE() << "job never finished";
  return {};
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("ftdr_engine_test_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  ExecutionEngine make(EngineConfig cfg = {}) {
    return ExecutionEngine(EnginePlugins{backend, nullptr, recovery_on ? recovery : nullptr, nullptr}, cfg);
  }

  std::shared_ptr<ScriptedBackend> backend = std::make_shared<ScriptedBackend>();
  std::shared_ptr<ScriptedRecovery> recovery = std::make_shared<ScriptedRecovery>();
  bool recovery_on = true;
  std::filesystem::path dir;
};

TEST_F(EngineTest, SuccessRunsEveryPhaseOnceInOrder) {
  ExecutionEngine engine = make();
  std::vector<std::pair<int, int>> progress;
  JobCallbacks cb;
  cb.on_progress = [&](JobId, int s, int t) { progress.emplace_back(s, t); };
  Job job(1, request(3, 2), ftdr::sdk::Priority::normal, cb);
  AttemptOutcome o = engine.run_attempt(job);
  ASSERT_EQ(o.state, S::completed);
  ASSERT_TRUE(o.result);
  EXPECT_EQ(states_of(*o.result), (States{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running,
                                          S::decoding, S::completed}));
  EXPECT_EQ(backend->calls(), (std::vector<std::string>{"encode", "denoise(first=0,batch=2,from=0)",
                                                        "decode(first=0,batch=2,tiles=0)"}));
  EXPECT_EQ(progress, (std::vector<std::pair<int, int>>{{1, 3}, {2, 3}, {3, 3}}));
  ASSERT_EQ(o.result->images.size(), 2u);
  EXPECT_EQ(o.result->images[1].rgb[0], 1);
  EXPECT_TRUE(o.result->attempts.empty());
  ASSERT_EQ(o.result->metrics.phases.size(), 4u);
  EXPECT_EQ(o.result->metrics.phases[2].phase, Phase::diffusion);
  EXPECT_EQ(o.result->metrics.phases[2].before.total_bytes, 4ull << 30);
}

TEST_F(EngineTest, JobsStartAtTheModelsDtype) {
  backend->model_dtype = ftdr::sdk::DType::bf16;
  ExecutionEngine engine = make();  // reads info() once
  Job job(7, request(), ftdr::sdk::Priority::normal);
  EXPECT_EQ(run_to_end(engine, job).state, S::completed);
  EXPECT_EQ(backend->last_dtype, ftdr::sdk::DType::bf16);
}

TEST_F(EngineTest, FailureWithoutRecoveryIsFinal) {
  recovery_on = false;
  ExecutionEngine engine = make();
  backend->fail_next(Phase::encoding, ErrorKind::device_error);
  Job job(2, request(), ftdr::sdk::Priority::normal);
  AttemptOutcome o = engine.run_attempt(job);
  ASSERT_EQ(o.state, S::failed);
  EXPECT_EQ(states_of(*o.result), (States{S::idle, S::initializing, S::encoding_prompt, S::failed}));
  EXPECT_EQ(o.result->error_kind, ErrorKind::device_error);
  ASSERT_EQ(o.result->attempts.size(), 1u);
  EXPECT_EQ(o.result->attempts[0].failure.phase, Phase::encoding);
  EXPECT_EQ(o.result->attempts[0].change, "");
  EXPECT_NE(o.result->error_message.find("no recovery strategy configured"), std::string::npos);
}

TEST_F(EngineTest, DiffusionFailureResumesFromNewestCheckpointWithoutReencoding) {
  EngineConfig cfg;
  cfg.state_dir = dir.string();
  cfg.checkpoint_every = 2;
  ExecutionEngine engine = make(cfg);
  backend->fail_next(Phase::diffusion, ErrorKind::device_error, /*at_step*/ 5);
  Job job(3, request(6), ftdr::sdk::Priority::normal);
  AttemptOutcome first = engine.run_attempt(job);
  ASSERT_EQ(first.state, S::retry_pending);
  EXPECT_FALSE(first.result);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed);
  EXPECT_EQ(states_of(r),
            (States{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running, S::retry_pending,
                    S::initializing, S::diffusion_running, S::decoding, S::completed}));
  EXPECT_EQ(backend->calls(),
            (std::vector<std::string>{"encode", "denoise(first=0,batch=1,from=0)", "save(2)", "save(4)",
                                      "load(4)", "denoise(first=0,batch=1,from=4)", "save(6)",
                                      "decode(first=0,batch=1,tiles=0)"}));
  EXPECT_EQ(backend->count("encode"), 1);
  EXPECT_EQ(backend->count("load(4)"), 1);
  EXPECT_EQ(backend->count("denoise(first=0,batch=1,from=4)"), 1);
  ASSERT_EQ(r.attempts.size(), 1u);
  EXPECT_EQ(r.attempts[0].failure.step, 5);
  EXPECT_EQ(r.attempts[0].failure.kind, ErrorKind::device_error);
  EXPECT_EQ(r.attempts[0].change, "retry as is");
  EXPECT_FALSE(std::filesystem::exists(dir / "jobs" / "3")) << "checkpoints are removed after COMPLETED";
}

TEST_F(EngineTest, DecodeFailureNeverRerunsDiffusion) {
  ExecutionEngine engine = make();
  backend->fail_next(Phase::decoding, ErrorKind::out_of_memory);
  Job job(4, request(), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed);
  EXPECT_EQ(states_of(r),
            (States{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running, S::decoding,
                    S::retry_pending, S::initializing, S::decoding, S::completed}));
  EXPECT_EQ(backend->count("denoise"), 1);
  EXPECT_EQ(backend->count("decode"), 2);
}

TEST_F(EngineTest, ResumeAtInitializingDropsMemoryButReloadsTheFinalCheckpoint) {
  EngineConfig cfg;
  cfg.state_dir = dir.string();
  cfg.checkpoint_every = 10;
  ExecutionEngine engine = make(cfg);
  recovery->use_resume = true;
  recovery->resume = Phase::initializing;
  backend->fail_next(Phase::decoding, ErrorKind::device_error);
  Job job(5, request(3), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed);
  EXPECT_EQ(states_of(r),
            (States{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running, S::decoding,
                    S::retry_pending, S::initializing, S::decoding, S::completed}));
  EXPECT_EQ(backend->count("denoise"), 1);
  EXPECT_EQ(backend->count("load(3)"), 1);
}

TEST_F(EngineTest, SplitBatchRunsHalvesInOrderAndConcatenates) {
  backend->oom_above_batch = 2;
  recovery->split = true;
  ExecutionEngine engine = make();
  Job job(6, request(2, 4), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed);
  EXPECT_EQ(states_of(r), (States{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running,
                                  S::retry_pending, S::initializing, S::diffusion_running, S::decoding,
                                  S::diffusion_running, S::decoding, S::completed}));
  EXPECT_EQ(backend->calls(),
            (std::vector<std::string>{"encode", "denoise(first=0,batch=4,from=0)",
                                      "denoise(first=0,batch=2,from=0)", "decode(first=0,batch=2,tiles=0)",
                                      "denoise(first=2,batch=2,from=0)", "decode(first=2,batch=2,tiles=0)"}));
  ASSERT_EQ(r.images.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r.images[i].rgb[0], i);
  EXPECT_EQ(r.attempts.size(), 1u);
  EXPECT_EQ(r.attempts[0].failure.kind, ErrorKind::out_of_memory);
}

TEST_F(EngineTest, GivingUpKeepsTheWholeHistory) {
  recovery->retries = 2;
  ExecutionEngine engine = make();
  for (int i = 0; i < 3; ++i) backend->fail_next(Phase::encoding, ErrorKind::device_error);
  Job job(7, request(), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::failed);
  EXPECT_EQ(states_of(r),
            (States{S::idle, S::initializing, S::encoding_prompt, S::retry_pending, S::initializing,
                    S::encoding_prompt, S::retry_pending, S::initializing, S::encoding_prompt, S::failed}));
  ASSERT_EQ(r.attempts.size(), 3u);
  EXPECT_EQ(r.attempts[0].number, 1);
  EXPECT_EQ(r.attempts[2].number, 3);
  EXPECT_EQ(r.attempts[0].change, "retry as is");
  EXPECT_EQ(r.attempts[2].change, "");
  EXPECT_EQ(recovery->history_sizes, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_NE(r.error_message.find("scripted: no retries left"), std::string::npos) << r.error_message;
}

TEST_F(EngineTest, ClassifiesForeignExceptions) {
  ExecutionEngine engine = make();
  recovery->retries = 0;
  backend->fail_next_how(Phase::encoding, ScriptedBackend::How::bad_alloc);
  Job a(8, request(), ftdr::sdk::Priority::normal);
  EXPECT_EQ(run_to_end(engine, a).error_kind, ErrorKind::out_of_memory);
  backend->fail_next_how(Phase::decoding, ScriptedBackend::How::runtime_error);
  Job b(9, request(), ftdr::sdk::Priority::normal);
  JobResult rb = run_to_end(engine, b);
  EXPECT_EQ(rb.error_kind, ErrorKind::internal);
  EXPECT_EQ(rb.attempts.at(0).failure.phase, Phase::decoding);
}

TEST_F(EngineTest, HealthCheckAndWatchdogStopDiffusion) {
  recovery->retries = 0;
  EngineConfig cfg;
  cfg.step_timeout_ms = 1000;
  ExecutionEngine engine = make(cfg);
  backend->fail_next_how(Phase::diffusion, ScriptedBackend::How::non_finite, 2);
  Job a(10, request(), ftdr::sdk::Priority::normal);
  JobResult ra = run_to_end(engine, a);
  EXPECT_EQ(ra.error_kind, ErrorKind::numerical_error);
  EXPECT_EQ(ra.attempts.at(0).failure.step, 2);
  backend->fail_next_how(Phase::diffusion, ScriptedBackend::How::slow_step, 3);
  Job b(11, request(), ftdr::sdk::Priority::normal);
  JobResult rb = run_to_end(engine, b);
  EXPECT_EQ(rb.error_kind, ErrorKind::timeout);
  EXPECT_NE(rb.error_message.find("step_timeout_ms"), std::string::npos) << rb.error_message;
}

TEST_F(EngineTest, InvalidRequestsAndModelErrorsAreNeverRetried) {
  recovery->retries = 100;
  ExecutionEngine engine = make();
  ftdr::sdk::GenerationRequest bad = request();
  bad.prompt = "invalid-for-model";
  Job a(12, bad, ftdr::sdk::Priority::normal);
  JobResult ra = run_to_end(engine, a);
  EXPECT_EQ(ra.error_kind, ErrorKind::invalid_request);
  EXPECT_EQ(states_of(ra), (States{S::idle, S::initializing, S::failed}));
  backend->fail_next(Phase::encoding, ErrorKind::model_error);
  Job b(13, request(), ftdr::sdk::Priority::normal);
  EXPECT_EQ(run_to_end(engine, b).attempts.size(), 1u);
  EXPECT_TRUE(recovery->seen.empty()) << "the strategy is not asked about permanent failures";
}

TEST_F(EngineTest, MaxAttemptsCapsAStrategyThatAlwaysRetries) {
  recovery->retries = 1000;
  EngineConfig cfg;
  cfg.max_attempts = 3;
  ExecutionEngine engine = make(cfg);
  for (int i = 0; i < 5; ++i) backend->fail_next(Phase::encoding, ErrorKind::device_error);
  Job job(14, request(), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  EXPECT_EQ(r.state, S::failed);
  EXPECT_EQ(r.attempts.size(), 3u);
  EXPECT_NE(r.error_message.find("max_attempts"), std::string::npos);
}

TEST_F(EngineTest, CancellationStopsAtTheNextStepBoundary) {
  ExecutionEngine engine = make();
  Job job(15, request(10), ftdr::sdk::Priority::normal);
  backend->on_step = [&](int step) {
    if (step == 3) job.request_cancel();
  };
  AttemptOutcome o = engine.run_attempt(job);
  ASSERT_EQ(o.state, S::cancelled);
  EXPECT_EQ(states_of(*o.result),
            (States{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running, S::cancelled}));
  EXPECT_EQ(o.result->error_kind, ErrorKind::cancelled);
  EXPECT_EQ(job.step(), 3);
  EXPECT_EQ(backend->count("decode"), 0);
  EXPECT_TRUE(recovery->seen.empty());
}

// check_stop (ABI 1.2): a cancel that arrives while a step runs stops it before it ends (the step
// never reports), and the job ends CANCELLED.
TEST_F(EngineTest, CancellationInsideAStepStopsBeforeTheStepEnds) {
  backend->mid_step_checks = true;
  ExecutionEngine engine = make();
  Job job(15, request(10), ftdr::sdk::Priority::normal);
  backend->on_step = [&](int step) {
    if (step == 3) job.request_cancel();
  };
  AttemptOutcome o = engine.run_attempt(job);
  ASSERT_EQ(o.state, S::cancelled);
  EXPECT_EQ(states_of(*o.result),
            (States{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running, S::cancelled}));
  EXPECT_EQ(o.result->error_kind, ErrorKind::cancelled);
  EXPECT_EQ(o.result->error_message, "job 15, during diffusion step 3: cancelled by request");
  EXPECT_EQ(job.step(), 2);  // step 3 never finished
}

TEST_F(EngineTest, CancellationDuringDecodingStopsTheDecode) {
  backend->mid_step_checks = true;
  ExecutionEngine engine = make();
  Job job(16, request(2), ftdr::sdk::Priority::normal);
  backend->on_decode = [&] { job.request_cancel(); };
  AttemptOutcome o = engine.run_attempt(job);
  ASSERT_EQ(o.state, S::cancelled);
  EXPECT_EQ(states_of(*o.result), (States{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running,
                                          S::decoding, S::cancelled}));
  EXPECT_EQ(o.result->error_message, "job 16, during decoding: cancelled by request");
  EXPECT_TRUE(o.result->written_paths.empty());
}

// The step watchdog also fires inside a step, without waiting for the step to end.
TEST_F(EngineTest, StepWatchdogFiresInsideAStep) {
  backend->mid_step_checks = true;
  EngineConfig cfg;
  cfg.step_timeout_ms = 200;
  recovery_on = false;
  ExecutionEngine engine = make(cfg);
  Job job(17, request(4), ftdr::sdk::Priority::normal);
  backend->on_step = [&](int step) {
    if (step == 2) std::this_thread::sleep_for(std::chrono::milliseconds(400));
  };
  JobResult r = run_to_end(engine, job);
  EXPECT_EQ(r.error_kind, ErrorKind::timeout);
  EXPECT_NE(r.error_message.find("job 17, during diffusion step 2: running for "), std::string::npos)
      << r.error_message;
  EXPECT_NE(r.error_message.find("over the step watchdog of 200.0 ms"), std::string::npos) << r.error_message;
  EXPECT_EQ(job.step(), 1);
}

TEST_F(EngineTest, DegradedRetryDropsLatentsAndMarksTheResult) {
  recovery->degrade_width = 32;
  ExecutionEngine engine = make();
  backend->fail_next(Phase::decoding, ErrorKind::out_of_memory);
  Job job(16, request(2), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed);
  EXPECT_TRUE(r.degraded);
  EXPECT_EQ(r.final_params.width, 32);
  EXPECT_EQ(backend->count("denoise"), 2) << "latents of another size cannot be decoded";
  EXPECT_EQ(r.images.at(0).rgb[1], 4);
}

TEST_F(EngineTest, ImageSinkGetsEverySubBatchAndPathsReachTheResult) {
  EngineConfig cfg;
  std::vector<int> firsts;
  cfg.image_sink = [&](const Job& job, const ftdr::sdk::GenerationParams& p,
                       const std::vector<ftdr::sdk::Image>& imgs) {
    firsts.push_back(p.first_image);
    std::vector<std::string> paths;
    for (std::size_t i = 0; i < imgs.size(); ++i) {
      paths.push_back("job" + std::to_string(job.id()) + "_" + std::to_string(p.first_image + i) + ".png");
    }
    return paths;
  };
  backend->oom_above_batch = 1;
  recovery->split = true;
  ExecutionEngine engine = make(cfg);
  Job job(17, request(1, 2), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed);
  EXPECT_EQ(firsts, (std::vector<int>{0, 1}));
  EXPECT_EQ(r.written_paths, (std::vector<std::string>{"job17_0.png", "job17_1.png"}));
}

TEST_F(EngineTest, ShrinkingTheBatchWithoutSplitQueuesTheRestInsteadOfLosingIt) {
  backend->oom_above_batch = 1;
  recovery->shrink_batch_to = 1;
  ExecutionEngine engine = make();
  Job job(18, request(1, 3), ftdr::sdk::Priority::normal);
  JobResult r = run_to_end(engine, job);
  ASSERT_EQ(r.state, S::completed);
  ASSERT_EQ(r.images.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.images[i].rgb[0], i);
  EXPECT_EQ(backend->count("decode(first=0,batch=1"), 1);
  EXPECT_EQ(backend->count("decode(first=1,batch=1"), 1);
  EXPECT_EQ(backend->count("decode(first=2,batch=1"), 1);
}

}  // namespace
}  // namespace execution_engine_test
