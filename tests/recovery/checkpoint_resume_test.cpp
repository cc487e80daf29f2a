// Resuming from a checkpoint gives the same bytes: a failure at step 17 of 20 with a checkpoint
// every 5 steps resumes from step 15, and the PNG the host's sink writes is byte-identical to the
// one an uninterrupted run writes. Two ways to recover without changing the output: an OOM whose
// diffusion ladder is only "offload", and a device_error (retried as is).
#include <gtest/gtest.h>

#include "recovery/recovery_rig.hpp"

namespace ftdr::test {
namespace {

void expect_resume_is_byte_identical(const std::filesystem::path& model, const std::string& faults,
                                     const std::string& expected_attempt) {
  RigOptions options;
  options.checkpoint_every = 5;
  options.png = true;
  Rig rig(model, fresh_test_dir(),
          "[faults]\n" + faults + "\n" + fast_recovery("diffusion_oom_ladder = [\"offload\"]\n"), options);
  ASSERT_TRUE(rig.ok());
  sdk::GenerationRequest request = small_request(20);
  request.output_prefix = "img";

  // The fault fires once (times=1): the first job fails at step 17 and resumes; the second runs clean.
  Trace faulted = rig.run(request);
  ASSERT_EQ(faulted.result.state, fw::ExecutionState::completed) << faulted.result.error_message;
  ASSERT_EQ(faulted.result.written_paths.size(), 1u);
  const std::string faulted_png = file_bytes(faulted.result.written_paths[0]);
  EXPECT_EQ(faulted.attempts, std::vector<std::string>{expected_attempt});
  EXPECT_EQ(
      faulted.states,
      "IDLE INITIALIZING ENCODING_PROMPT DIFFUSION_RUNNING RETRY_PENDING INITIALIZING DIFFUSION_RUNNING "
      "DECODING COMPLETED");
  // Steps 1..16 ran, then the resumed attempt ran 16.. from the step-15 checkpoint (PNDM, the
  // default sampler, makes 20 steps 21 UNet evaluations, as diffusers does).
  std::vector<int> expected_steps;
  for (int s = 1; s <= 16; ++s) expected_steps.push_back(s);
  for (int s = 16; s <= 21; ++s) expected_steps.push_back(s);
  EXPECT_EQ(faulted.progress, expected_steps);
  EXPECT_EQ(faulted.result.metrics.checkpoints.size(), 5u);  // 5, 10, 15, 20 and the end (21)

  Trace clean = rig.run(request);
  ASSERT_EQ(clean.result.state, fw::ExecutionState::completed) << clean.result.error_message;
  EXPECT_TRUE(clean.attempts.empty());
  EXPECT_EQ(clean.diffusion_steps(), 21);
  // The sink never replaces a file: the clean run's image gets the next name (img-0-1.png).
  ASSERT_EQ(clean.result.written_paths.size(), 1u);
  EXPECT_NE(clean.result.written_paths[0], faulted.result.written_paths[0]);
  EXPECT_TRUE(file_bytes(clean.result.written_paths[0]) == faulted_png) << "the resumed PNG differs";
}

TEST(CheckpointResume, OomAtStep17ResumesFromStep15ByteIdentical) {
  FTDR_REQUIRE_TINY_SD1(model);
  expect_resume_is_byte_identical(model, "oom = \"diffusion:step=17\"",
                                  "out_of_memory in diffusion at step 16 -> offload the other components and "
                                  "empty the cache, retry diffusion");
}

TEST(CheckpointResume, DeviceErrorAtStep17ResumesFromStep15ByteIdentical) {
  FTDR_REQUIRE_TINY_SD1(model);
  expect_resume_is_byte_identical(
      model, "device_error = \"diffusion:step=17\"",
      "device_error in diffusion at step 16 -> retry diffusion after device cleanup (device_error 1 of 2)");
}

}  // namespace
}  // namespace ftdr::test
