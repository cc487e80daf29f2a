// thread_calibration: what a `threads = 0` round runs for a model (a real CFG step of a small UNet,
// the op mix for a large one), the cache key each gives, and that a round really runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "threads/thread_calibration.hpp"
#include "unet/unet_2d_condition_model.hpp"

namespace ftdr::test {
namespace {

using torchbe::CalibrationRound;

// The tiny test model's UNet (../shared/reference/tiny-sd1/unet/config.json), written out.
torchbe::UNetConfig tiny_unet() {
  torchbe::UNetConfig c;
  c.sample_size = 32;
  c.block_out_channels = {32, 64};
  c.layers_per_block = {2, 2};
  c.down_block_types = {"DownBlock2D", "CrossAttnDownBlock2D"};
  c.up_block_types = {"CrossAttnUpBlock2D", "UpBlock2D"};
  c.attention_heads = {8, 8};
  c.transformer_layers_per_block = {1, 1};
  c.cross_attention_dim = 32;
  return c;
}

TEST(ThreadCalibration, ASmallUNetIsTimedOnARealStepALargeOneOnTheOpMix) {
  // Per level 9 * c^2 * side^2 * 2 convolutions * 5 resnets, and the mid block's 2 resnets.
  EXPECT_DOUBLE_EQ(torchbe::unet_step_multiply_adds(tiny_unet()), 226492416.0);
  const auto tiny = torchbe::calibration_workload(tiny_unet(), at::kFloat);
  EXPECT_EQ(tiny.round, CalibrationRound::unet_step);
  EXPECT_EQ(tiny.key(), "unet-step c32,64 l2,2 h8,8 t1,1 a01 s32 ctx32 Float b2 step2");
  EXPECT_EQ(tiny.describe(), "one CFG step of the UNet");

  const torchbe::UNetConfig sd15;  // the defaults are SD 1.x's sizes (cross_attention_dim aside)
  EXPECT_DOUBLE_EQ(torchbe::unet_step_multiply_adds(sd15), 126458265600.0);
  const auto large = torchbe::calibration_workload(sd15, at::kFloat);
  EXPECT_EQ(large.round, CalibrationRound::op_mix);
  EXPECT_EQ(large.key(), "unet-level0 c320 64x64 d40 g32 ctx1280 Float mix3");
  EXPECT_EQ(large.describe(), "the op mix at the first level");
}

TEST(ThreadCalibration, ARealStepNeedsTheLoadedUNet) {
  const auto w = torchbe::calibration_workload(tiny_unet(), at::kFloat);
  EXPECT_THROW(torchbe::calibration_round(w, torchbe::UNet2DConditionModel(nullptr)), std::invalid_argument);
}

TEST(ThreadCalibration, EachCandidateGetsItsRoundsOfTheRealStep) {
  const auto w = torchbe::calibration_workload(tiny_unet(), at::kFloat);
  torchbe::UNet2DConditionModel unet(tiny_unet());  // libtorch's random init: only the time matters
  unet->eval();
  const int intra = at::get_num_threads();
  torchbe::CalibrationOptions options;
  options.rounds = 2;
  options.min_round_seconds = 0;
  const auto timings =
      torchbe::time_splits(torchbe::calibration_round(w, unet), {{1, 0}, {intra, 0}}, options);
  ASSERT_EQ(timings.size(), 2u);
  for (const auto& t : timings) {
    ASSERT_FALSE(t.seconds.empty());
    for (double s : t.seconds) EXPECT_GT(s, 0.0);
  }
  // Every round for the candidates near the fastest first round (worth_more_rounds), one for the rest.
  EXPECT_EQ(std::max(timings[0].seconds.size(), timings[1].seconds.size()), 2u);
  torchbe::apply_split({intra, 0});
}

}  // namespace
}  // namespace ftdr::test
