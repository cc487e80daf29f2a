// onednn_banded_conv2d: oneDNN called directly, band by band, gives one at::mkldnn_convolution's
// result bit for bit (where this build calls oneDNN itself; elsewhere it says it cannot).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <string>
#include <vector>

#include "nn/onednn_conv.hpp"
#include "tests/thread_count.hpp"

namespace ftdr::test {
namespace {

using torchbe::onednn_banded_conv2d;
using torchbe::onednn_direct_conv_built;

struct Case {
  std::int64_t in, out, height, width, kernel, padding, rows;
  bool bias;
};

std::string describe(const Case& c) {
  return std::to_string(c.in) + "->" + std::to_string(c.out) + " k" + std::to_string(c.kernel) + " p" +
         std::to_string(c.padding) + " at " + std::to_string(c.height) + "x" + std::to_string(c.width) +
         ", " + std::to_string(c.rows) + " rows a band" + (c.bias ? "" : ", no bias") + ", " +
         std::to_string(at::get_num_threads()) + " threads";
}

TEST(OnednnConv, BandsAreOneCallsConvolutionBitForBit) {
  if (!onednn_direct_conv_built()) {
    GTEST_SKIP()
        << "this build does not call oneDNN itself (cmake/OneDnnConv.cmake says why at configure time)";
  }
  at::manual_seed(5);
  c10::InferenceMode inference;
  // The SD VAE decoder's kinds: 3x3 padded (bands at the top edge, between, at the bottom edge, and
  // a short last one), its conv_out (3 output channels, not a multiple of oneDNN's block of 8), a
  // 1x1 shortcut without bias, an unpadded 3x3, and one band for the whole image.
  const std::vector<Case> cases{{32, 16, 37, 29, 3, 1, 5, true},
                                {128, 3, 40, 33, 3, 1, 7, true},
                                {24, 40, 19, 23, 1, 0, 4, false},
                                {16, 8, 30, 20, 3, 0, 6, true},
                                {16, 16, 12, 12, 3, 1, 100, true}};
  for (int threads : {1, 2}) {
    ThreadCount count(threads);
    for (const Case& c : cases) {
      const at::Tensor x = at::randn({1, c.in, c.height, c.width});
      const at::Tensor weight = at::randn({c.out, c.in, c.kernel, c.kernel}) * 0.1;
      const c10::optional<at::Tensor> bias =
          c.bias ? c10::optional<at::Tensor>(at::randn({c.out})) : c10::nullopt;
      const at::Tensor one_call =
          at::mkldnn_convolution(x, weight, bias, {c.padding, c.padding}, {1, 1}, {1, 1}, 1);
      at::Tensor banded = at::full(one_call.sizes(), std::nanf(""));
      ASSERT_TRUE(onednn_banded_conv2d(x, weight, bias, c.padding, c.padding, c.rows, banded)) << describe(c);
      EXPECT_TRUE(at::equal(banded, one_call))
          << describe(c) << ": max difference " << (banded - one_call).abs().max().item<double>();
    }
  }
}

// What its descriptors cannot describe is refused, with the output untouched, for libtorch's call.
TEST(OnednnConv, RefusesWhatItCannotDescribe) {
  if (!onednn_direct_conv_built()) GTEST_SKIP() << "this build does not call oneDNN itself";
  c10::InferenceMode inference;
  const at::Tensor weight = at::randn({4, 8, 3, 3});
  const at::Tensor x = at::randn({1, 8, 16, 16});
  at::Tensor out = at::zeros({1, 4, 16, 16});
  EXPECT_FALSE(onednn_banded_conv2d(x.to(at::kDouble), weight, c10::nullopt, 1, 1, 4, out)) << "float64";
  EXPECT_FALSE(onednn_banded_conv2d(x.transpose(2, 3), weight, c10::nullopt, 1, 1, 4, out))
      << "not contiguous";
  EXPECT_FALSE(onednn_banded_conv2d(at::randn({2, 8, 16, 16}), weight, c10::nullopt, 1, 1, 4, out))
      << "two images";
  EXPECT_FALSE(onednn_banded_conv2d(at::randn({1, 6, 16, 16}), weight, c10::nullopt, 1, 1, 4, out))
      << "6 channels";
  EXPECT_TRUE(at::equal(out, at::zeros({1, 4, 16, 16})));
}

TEST(OnednnConv, SaysWhenThisBuildCannot) {
  if (onednn_direct_conv_built()) GTEST_SKIP() << "this build calls oneDNN itself (the test above)";
  at::Tensor out = at::zeros({1, 1, 4, 4});
  EXPECT_FALSE(
      onednn_banded_conv2d(at::zeros({1, 1, 4, 4}), at::zeros({1, 1, 1, 1}), c10::nullopt, 0, 0, 2, out));
}

}  // namespace
}  // namespace ftdr::test
