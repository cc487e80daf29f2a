// JobWork: the operations that change what a job carries between attempts (sub-batches, latents,
// checkpoints, images, attempts).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "ftdr/framework/jobs/job_work.hpp"

namespace {

namespace fs = std::filesystem;
using ftdr::framework::JobWork;
using namespace ftdr;

class Latents final : public sdk::Artifact {
 public:
  explicit Latents(int steps) : steps_(steps) {}
  std::string kind() const override { return "latents"; }
  std::uint64_t bytes() const override { return 16; }
  int steps_done() const override { return steps_; }

 private:
  int steps_;
};

sdk::GenerationParams whole(int batch) {
  sdk::GenerationParams p;
  p.request.prompt = "a lighthouse";
  p.request.seed = 7;
  p.batch = batch;
  return p;
}

sdk::Image image(int tag) {
  sdk::Image i;
  i.width = tag;
  return i;
}

fs::path temp_file(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("ftdr_job_work_" + name);
  std::ofstream(p) << "ckpt";
  return p;
}

TEST(JobWork, StartMakesTheWholeRequestOneSubBatchOnce) {
  JobWork w;
  EXPECT_FALSE(w.started());
  w.start(whole(4));
  w.start(whole(9));  // already started: ignored
  ASSERT_EQ(w.sub_batches().size(), 1u);
  EXPECT_EQ(w.current().batch, 4);
  EXPECT_EQ(w.last_params().batch, 4);
  EXPECT_EQ(w.attempt(), 1);
}

TEST(JobWork, SplitKeepsFirstImageAndBatchOfBothHalves) {
  JobWork w;
  w.start(whole(5));
  sdk::RecoveryDecision d;
  d.retry = true;
  d.split_batch = true;
  d.params = whole(5);
  w.retry_with(d);
  ASSERT_EQ(w.sub_batches().size(), 2u);
  EXPECT_EQ(w.sub_batches()[0].first_image, 0);
  EXPECT_EQ(w.sub_batches()[0].batch, 3);
  EXPECT_EQ(w.sub_batches()[1].first_image, 3);
  EXPECT_EQ(w.sub_batches()[1].batch, 2);
  EXPECT_EQ(w.attempt(), 2);
  EXPECT_FALSE(w.degraded());
}

TEST(JobWork, ShrinkingWithoutSplitQueuesTheRestAndLaterSubBatchesKeepTheirPlace) {
  JobWork w;
  w.start(whole(4));
  sdk::RecoveryDecision split;
  split.split_batch = true;
  split.params = whole(4);
  w.retry_with(split);  // [0,2) [2,4)
  sdk::RecoveryDecision shrink;
  shrink.params = whole(1);
  shrink.params.width = 256;
  shrink.degraded = true;
  w.retry_with(shrink);  // [0,1) [1,2) then [2,4) at the new width
  ASSERT_EQ(w.sub_batches().size(), 3u);
  EXPECT_EQ(w.sub_batches()[1].first_image, 1);
  EXPECT_EQ(w.sub_batches()[1].batch, 1);
  EXPECT_EQ(w.sub_batches()[2].first_image, 2);
  EXPECT_EQ(w.sub_batches()[2].batch, 2);
  EXPECT_EQ(w.sub_batches()[2].width, 256);
  EXPECT_TRUE(w.degraded());
  EXPECT_EQ(w.attempt(), 3);
}

TEST(JobWork, RecordedCheckpointIsDroppedWithTheLatentsAndItsFileDeleted) {
  JobWork w;
  w.start(whole(1));
  const fs::path first = temp_file("a.ckpt"), second = temp_file("b.ckpt");
  w.set_latents(std::make_shared<Latents>(5));
  w.record_checkpoint(first.string(), 5);
  w.record_checkpoint(second.string(), 10);
  EXPECT_FALSE(fs::exists(first));  // replaced: the older file goes
  EXPECT_EQ(w.checkpoint_path(), second.string());
  EXPECT_EQ(w.checkpoint_steps(), 10);
  w.drop_latents();
  EXPECT_EQ(w.latents(), nullptr);
  EXPECT_EQ(w.checkpoint_path(), "");
  EXPECT_EQ(w.checkpoint_steps(), 0);
  EXPECT_FALSE(fs::exists(second));
  EXPECT_EQ(w.checkpoints(), (std::vector<std::string>{first.string(), second.string()}));
}

TEST(JobWork, ChangedSamplingDropsLatentsButResumeFromInitializingKeepsTheCheckpoint) {
  JobWork w;
  w.start(whole(1));
  const fs::path ckpt = temp_file("c.ckpt");
  w.complete_latents(std::make_shared<Latents>(20));
  w.record_checkpoint(ckpt.string(), 20);
  sdk::RecoveryDecision lost;
  lost.resume_phase = sdk::Phase::initializing;
  lost.params = whole(1);
  w.retry_with(lost);  // same sampling: memory gone, the file and "complete" stay
  EXPECT_EQ(w.latents(), nullptr);
  EXPECT_TRUE(w.latents_complete());
  EXPECT_EQ(w.checkpoint_path(), ckpt.string());
  sdk::RecoveryDecision reseed;
  reseed.params = whole(1);
  reseed.params.request.seed = 8;
  w.retry_with(reseed);
  EXPECT_FALSE(w.latents_complete());
  EXPECT_EQ(w.checkpoint_path(), "");
  EXPECT_FALSE(fs::exists(ckpt));
}

TEST(JobWork, FinishedSubBatchImagesComeBackInImageOrder) {
  JobWork w;
  w.start(whole(3));
  sdk::RecoveryDecision split;
  split.split_batch = true;
  split.params = whole(3);
  w.retry_with(split);  // [0,2) [2,3)
  w.ran_with(w.current());
  w.complete_latents(std::make_shared<Latents>(20));
  w.finish_sub_batch({image(0), image(1)}, {"0.png", "1.png"});
  EXPECT_EQ(w.latents(), nullptr);
  EXPECT_FALSE(w.latents_complete());
  EXPECT_EQ(w.current().first_image, 2);
  w.finish_sub_batch({image(2)}, {"2.png"});
  EXPECT_TRUE(w.done());
  const std::vector<sdk::Image> images = w.images_in_order();
  ASSERT_EQ(images.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(images[i].width, i);
  EXPECT_EQ(w.written_in_order(), (std::vector<std::string>{"0.png", "1.png", "2.png"}));
  w.release_artifacts();
  EXPECT_TRUE(w.images_in_order().empty());
}

TEST(JobWork, CursorTracksPhaseAndStepAndRestartsWithEachAttempt) {
  JobWork w;
  w.enter_phase(sdk::Phase::diffusion);
  w.at_step(7);
  EXPECT_EQ(w.cursor().phase, sdk::Phase::diffusion);
  EXPECT_EQ(w.cursor().step, 7);
  w.begin_attempt();
  EXPECT_EQ(w.cursor().phase, sdk::Phase::initializing);
  EXPECT_EQ(w.cursor().step, 0);
}

}  // namespace
