// winograd_conv3x3: F(2x2, 3x3) gives the 3x3 convolution within float32 rounding of the direct sum
// (against a float64 convolution of the same numbers), on the shapes the SD VAE decoder has and the
// edges it does not (odd sizes, one row, output channels not a multiple of 4), with and without
// bias, on 1 and 2 threads; and it refuses what it cannot do.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/winograd_conv.hpp"
#include "tests/thread_count.hpp"

namespace ftdr::test {
namespace {

using torchbe::winograd_conv3x3;
using torchbe::winograd_conv_available;

struct Case {
  std::int64_t in, out, height, width;
  bool bias;
};

std::string describe(const Case& c) {
  return std::to_string(c.in) + "->" + std::to_string(c.out) + " at " + std::to_string(c.height) + "x" +
         std::to_string(c.width) + (c.bias ? "" : ", no bias") + ", " +
         std::to_string(at::get_num_threads()) + " threads";
}

TEST(WinogradConv, MatchesTheDirectConvolutionWithinFloat32Rounding) {
  if (!winograd_conv_available()) GTEST_SKIP() << "this CPU has no AVX2 and FMA: winograd_conv3x3 not used";
  at::manual_seed(11);
  c10::InferenceMode inference;
  const std::vector<Case> cases{{128, 128, 64, 96, true},  // several bands (256 KiB of V per band)
                                {512, 256, 20, 18, true},  // the up blocks' 512 -> 256
                                {128, 3, 33, 29, true},    // conv_out: 3 outputs; odd sizes
                                {5, 7, 1, 1, false},       // one pixel: every tap but the centre is padding
                                {3, 8, 2, 41, true},       // one tile row
                                {16, 4, 47, 2, false}};    // one tile column
  for (int threads : {1, 2}) {
    ThreadCount count(threads);
    for (const Case& c : cases) {
      const at::Tensor x = at::randn({1, c.in, c.height, c.width});
      const at::Tensor weight = at::randn({c.out, c.in, 3, 3}) / std::sqrt(9.0 * c.in);
      const c10::optional<at::Tensor> bias =
          c.bias ? c10::optional<at::Tensor>(at::randn({c.out})) : c10::nullopt;
      const at::Tensor exact = at::conv2d(x.to(at::kDouble), weight.to(at::kDouble),
                                          bias.has_value() ? bias->to(at::kDouble) : at::Tensor(), 1, 1);
      const double direct =
          (at::conv2d(x, weight, bias.has_value() ? *bias : at::Tensor(), 1, 1).to(at::kDouble) - exact)
              .abs()
              .max()
              .item<double>();
      at::Tensor out = at::full(exact.sizes(), std::nanf(""));
      ASSERT_TRUE(winograd_conv3x3(x, weight, bias, out)) << describe(c);
      const double scale = exact.abs().max().item<double>();
      const double error = (out.to(at::kDouble) - exact).abs().max().item<double>();
      // Every element written (NaN-filled before), and within 2e-6 of the result's scale: a few of
      // float32's ulps, as the direct float32 sum (printed beside it) is.
      EXPECT_FALSE(at::isnan(out).any().item<bool>()) << describe(c);
      EXPECT_LE(error, 2e-6 * scale) << describe(c) << ": direct float32 convolution's error " << direct
                                     << ", scale " << scale;
    }
  }
}

TEST(WinogradConv, RefusesWhatItCannotDo) {
  if (!winograd_conv_available()) GTEST_SKIP() << "this CPU has no AVX2 and FMA: winograd_conv3x3 not used";
  c10::InferenceMode inference;
  const at::Tensor x = at::randn({1, 4, 6, 6});
  const at::Tensor weight = at::randn({8, 4, 3, 3});
  at::Tensor out = at::zeros({1, 8, 6, 6});
  const c10::nullopt_t none = c10::nullopt;
  EXPECT_FALSE(winograd_conv3x3(at::randn({2, 4, 6, 6}), weight, none, out)) << "a batch";
  EXPECT_FALSE(winograd_conv3x3(x.to(at::kDouble), weight, none, out)) << "float64";
  EXPECT_FALSE(winograd_conv3x3(x.transpose(2, 3), weight, none, out)) << "not contiguous";
  EXPECT_FALSE(winograd_conv3x3(x, at::randn({8, 4, 1, 1}), none, out)) << "1x1 weights";
  EXPECT_FALSE(winograd_conv3x3(x, at::randn({8, 5, 3, 3}), none, out)) << "channels do not match";
  EXPECT_FALSE(winograd_conv3x3(x, weight, c10::optional<at::Tensor>(at::randn({7})), out)) << "bias size";
  at::Tensor small = at::zeros({1, 8, 5, 6});
  EXPECT_FALSE(winograd_conv3x3(x, weight, none, small)) << "output size";
  EXPECT_TRUE(at::equal(out, at::zeros({1, 8, 6, 6}))) << "a refused call wrote the output";
}

}  // namespace
}  // namespace ftdr::test
