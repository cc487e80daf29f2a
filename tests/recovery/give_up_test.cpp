// Failures that end a job: retries exhausted (FAILED with every attempt in the history), and
// invalid_request from the backend's own checks, which is never retried; and the one model_error a
// running job can meet (an unreadable checkpoint), which the engine survives.
#include <gtest/gtest.h>

#include "recovery/recovery_rig.hpp"

namespace ftdr::test {
namespace {

TEST(GiveUp, RetriesExhaustedFailsWithTheWholeHistory) {
  FTDR_REQUIRE_TINY_SD1(model);
  Rig rig(model, fresh_test_dir(),
          "[faults]\noom = \"diffusion:step=2:times=always\"\n" + fast_recovery("max_retries = 2\n"));
  ASSERT_TRUE(rig.ok());
  Trace t = rig.run(small_request(4));
  EXPECT_EQ(t.result.state, fw::ExecutionState::failed);
  EXPECT_EQ(t.result.error_kind, sdk::ErrorKind::out_of_memory);
  EXPECT_EQ(t.states,
            "IDLE INITIALIZING ENCODING_PROMPT DIFFUSION_RUNNING RETRY_PENDING INITIALIZING "
            "DIFFUSION_RUNNING RETRY_PENDING INITIALIZING DIFFUSION_RUNNING FAILED");
  EXPECT_EQ(t.attempts,
            (std::vector<std::string>{
                "out_of_memory in diffusion at step 1 -> attention slicing on (slice size: backend's choice)",
                "out_of_memory in diffusion at step 1 -> smaller attention slices: backend's choice -> 256 "
                "query rows",
                "out_of_memory in diffusion at step 1 -> (gave up)"}));
  EXPECT_TRUE(t.result.images.empty());
  EXPECT_NE(t.result.error_message.find("injected oom"), std::string::npos) << t.result.error_message;
}

TEST(GiveUp, InvalidRequestFromTheBackendFailsAtOnce) {
  FTDR_REQUIRE_TINY_SD1(model);
  Rig rig(model, fresh_test_dir(), fast_recovery());
  ASSERT_TRUE(rig.ok());
  auto request = small_request(4);
  request.clip_skip = 9;  // tiny-sd1's text encoder has 5 layers: only the backend knows
  Trace t = rig.run(request);
  EXPECT_EQ(t.result.state, fw::ExecutionState::failed);
  EXPECT_EQ(t.result.error_kind, sdk::ErrorKind::invalid_request);
  EXPECT_EQ(t.states, "IDLE INITIALIZING FAILED");
  EXPECT_EQ(t.attempts, std::vector<std::string>{"invalid_request in initializing at step 0 -> (gave up)"});
  EXPECT_NE(t.result.error_message.find("clip_skip"), std::string::npos) << t.result.error_message;
}

// The one model_error a job can meet at run time is a checkpoint the backend cannot read; the engine
// does not fail the job for it but runs diffusion again from the start (execution_engine.cpp).
TEST(GiveUp, CorruptCheckpointIsNotFatalDiffusionStartsAfresh) {
  FTDR_REQUIRE_TINY_SD1(model);
  RigOptions options;
  options.checkpoint_every = 2;
  Rig rig(model, fresh_test_dir(), "[faults]\ndevice_error = \"diffusion:step=4\"\n" + fast_recovery(),
          options);
  ASSERT_TRUE(rig.ok());
  // While the job waits to retry, its checkpoints are overwritten with garbage.
  fw::JobCallbacks cb;
  const auto state_dir = rig.dir() / "state";
  cb.on_state = [state_dir](fw::JobId, fw::ExecutionState, fw::ExecutionState to) {
    if (to != fw::ExecutionState::retry_pending) return;
    for (const auto& e : std::filesystem::recursive_directory_iterator(state_dir))
      if (e.is_regular_file() && e.path().parent_path().filename() != "plugins")
        std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << "not a checkpoint";
  };
  Trace t = rig.run(small_request(6), std::chrono::seconds(60), cb);
  EXPECT_EQ(t.result.state, fw::ExecutionState::completed) << t.result.error_message;
  EXPECT_EQ(t.attempts, std::vector<std::string>{
                            "device_error in diffusion at step 3 -> retry diffusion after device cleanup "
                            "(device_error 1 of 2)"});
  // From the start (6 PNDM steps = 7 evaluations), not 3, 4, ... from the step-2 checkpoint.
  EXPECT_EQ(t.progress, (std::vector<int>{1, 2, 3, 1, 2, 3, 4, 5, 6, 7}));
}

}  // namespace
}  // namespace ftdr::test
