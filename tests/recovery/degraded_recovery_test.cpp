// Recoveries that change how the work is done but not what it makes: an OOM in decoding decodes
// the latents already made, tiled, without running diffusion again; an OOM in diffusion with the
// ladder ["split_batch"] runs a batch of 2 as 1 + 1 and gives the same images as the unsplit run.
#include <gtest/gtest.h>

#include "recovery/recovery_rig.hpp"

namespace ftdr::test {
namespace {

TEST(DegradedRecovery, DecodeOomTilesTheFinishedLatentsWithoutRerunningDiffusion) {
  FTDR_REQUIRE_TINY_SD1(model);
  Rig rig(model, fresh_test_dir(), "[faults]\noom = \"decode\"\n" + fast_recovery());
  ASSERT_TRUE(rig.ok());
  Trace t = rig.run(small_request(6));
  ASSERT_EQ(t.result.state, fw::ExecutionState::completed) << t.result.error_message;
  EXPECT_EQ(t.states,
            "IDLE INITIALIZING ENCODING_PROMPT DIFFUSION_RUNNING DECODING RETRY_PENDING INITIALIZING "
            "DECODING COMPLETED");
  EXPECT_EQ(t.attempts, std::vector<std::string>{
                            "out_of_memory in decoding at step 7 -> VAE tiling on, decoding again from the "
                            "finished latents"});
  EXPECT_EQ(t.diffusion_steps(), 7);  // diffusion ran once (6 PNDM steps = 7 UNet evaluations)
  EXPECT_TRUE(t.result.final_params.options.vae_tiling);
  EXPECT_FALSE(t.result.degraded);
  ASSERT_EQ(t.result.images.size(), 1u);
  EXPECT_EQ(t.result.images[0].rgb.size(), 64u * 64u * 3u);
}

// `threads`: the backend's intra-op threads (0: its own measured choice).
void expect_split_batch_gives_the_unsplit_images(const std::filesystem::path& model, int threads) {
  RigOptions options;
  options.threads = threads;
  Rig rig(
      model, fresh_test_dir(),
      "[faults]\noom = \"diffusion:step=2\"\n" + fast_recovery("diffusion_oom_ladder = [\"split_batch\"]\n"),
      options);
  ASSERT_TRUE(rig.ok());
  sdk::GenerationRequest request = small_request(4, 7.5);
  request.batch = 2;
  Trace split = rig.run(request);  // the fault fires once: this run splits ...
  Trace whole = rig.run(request);  // ... and this one runs as one batch of 2
  ASSERT_EQ(split.result.state, fw::ExecutionState::completed) << split.result.error_message;
  ASSERT_EQ(whole.result.state, fw::ExecutionState::completed) << whole.result.error_message;
  EXPECT_EQ(split.attempts,
            std::vector<std::string>{
                "out_of_memory in diffusion at step 1 -> batch 2 -> 1 + 1, one after the other"});
  EXPECT_EQ(split.states,
            "IDLE INITIALIZING ENCODING_PROMPT DIFFUSION_RUNNING RETRY_PENDING INITIALIZING "
            "DIFFUSION_RUNNING DECODING DIFFUSION_RUNNING DECODING COMPLETED");
  EXPECT_EQ(split.diffusion_steps(), 1 + 5 + 5);  // 4 PNDM steps = 5 UNet evaluations
  EXPECT_TRUE(whole.attempts.empty());
  EXPECT_EQ(whole.diffusion_steps(), 5);
  ASSERT_EQ(split.result.images.size(), 2u);
  ASSERT_EQ(whole.result.images.size(), 2u);
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(split.result.images[i].rgb == whole.result.images[i].rgb) << "image " << i;
  EXPECT_FALSE(split.result.images[0].rgb == split.result.images[1].rgb);  // seeds 11 and 12 differ
  EXPECT_FALSE(split.result.degraded);
}

TEST(DegradedRecovery, SplitBatchGivesTheUnsplitImages) {
  FTDR_REQUIRE_TINY_SD1(model);
  expect_split_batch_gives_the_unsplit_images(model, 0);
}

// On 2 threads libtorch's GroupNorm of a channels-last input (the VAE's attention output) summed an
// image's groups differently alone and in a batch (other pixels with oneDNN's AVX2 kernels, as on
// an AVX2-only machine); on 3 threads SiLU and GELU rounded an image's elements at the thread
// ranges' ends, which move with the batch (other pixels with either kernels). See nn/group_norm.cpp and
// nn/per_sample_activation.hpp. 3 threads on CI's 2 cores is oversubscribed, with the same bits.
TEST(DegradedRecovery, SplitBatchGivesTheUnsplitImagesOnTwoAndThreeThreads) {
  FTDR_REQUIRE_TINY_SD1(model);
  for (int threads : {2, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    expect_split_batch_gives_the_unsplit_images(model, threads);
  }
}

}  // namespace
}  // namespace ftdr::test
