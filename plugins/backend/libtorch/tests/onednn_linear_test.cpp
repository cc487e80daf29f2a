// onednn_linear: oneDNN's inner product called directly on the tensors' own memory agrees with
// at::mkldnn_linear (the same gemm, its weights reordered first) and at::linear, writes only out's
// rows, and refuses what it cannot take (where this build calls oneDNN itself; elsewhere it says it
// cannot).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cstdint>
#include <string>

#include "nn/onednn_linear.hpp"
#include "tests/thread_count.hpp"

namespace ftdr::test {
namespace {

using torchbe::onednn_direct_linear_built;
using torchbe::onednn_linear;

double largest_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

struct GemmCase {
  std::int64_t rows, in, out;
  bool bias;
};

TEST(OneDnnLinear, AgreesWithLibtorchsOneDnnLinear) {
  if (!onednn_direct_linear_built()) GTEST_SKIP() << "this build does not call oneDNN itself";
  c10::InferenceMode inference;
  at::manual_seed(11);
  // SD-1.5's projections at 512x512 and a feed-forward's second GEMM (in > out), odd sizes, 1 row.
  for (const GemmCase& c :
       {GemmCase{4096, 320, 320, true}, GemmCase{1024, 1280, 5120, true}, GemmCase{512, 2560, 640, false},
        GemmCase{77, 768, 3072, true}, GemmCase{333, 257, 129, true}, GemmCase{1, 64, 48, false}}) {
    for (int threads : {1, 2}) {
      ThreadCount count(threads);
      const std::string what = std::to_string(c.rows) + "x" + std::to_string(c.in) + "->" +
                               std::to_string(c.out) + (c.bias ? "" : " no bias") + ", " +
                               std::to_string(threads) + " threads";
      const at::Tensor x = at::randn({c.rows, c.in}), w = at::randn({c.out, c.in}) * 0.05;
      const at::Tensor b = c.bias ? at::randn({c.out}) : at::Tensor();
      at::Tensor got = at::full({c.rows, c.out}, 7.0f);
      ASSERT_TRUE(onednn_linear(x, w, b, got)) << what;
      const at::Tensor libtorchs = at::mkldnn_linear(x.to_mkldnn(), w, b).to_dense();
      const double scale = largest_abs(libtorchs);
      // The same gemm with the weights read [out, in] instead of reordered to [in, out]: float32
      // rounding apart at most (measured: equal for the models' shapes, 1.7e-7 of the scale for the
      // odd 333 x 257 -> 129).
      EXPECT_LE(largest_abs(got - libtorchs), 2e-6 * scale) << what;
      EXPECT_LE(largest_abs(got - at::linear(x, w, b)), 2e-6 * scale) << what;
    }
  }
}

TEST(OneDnnLinear, WritesOnlyOutsRowsWhereTheyLie) {
  if (!onednn_direct_linear_built()) GTEST_SKIP() << "this build does not call oneDNN itself";
  c10::InferenceMode inference;
  at::manual_seed(12);
  // cpu_linear hands it one sample's rows of a batch's output: the other samples' rows stay.
  const at::Tensor x = at::randn({256, 96}), w = at::randn({40, 96}), b = at::randn({40});
  at::Tensor batch = at::full({3, 256, 40}, -1.0f);
  at::Tensor middle = batch[1];
  ASSERT_TRUE(onednn_linear(x, w, b, middle));
  EXPECT_TRUE(at::equal(batch[0], at::full({256, 40}, -1.0f)));
  EXPECT_TRUE(at::equal(batch[2], at::full({256, 40}, -1.0f)));
  EXPECT_LE(largest_abs(batch[1] - at::linear(x, w, b)), 2e-6 * largest_abs(batch[1]));
}

TEST(OneDnnLinear, RefusesWhatItCannotTake) {
  c10::InferenceMode inference;
  const at::Tensor x = at::randn({8, 16}), w = at::randn({4, 16}), b = at::randn({4});
  at::Tensor out = at::full({8, 4}, 5.0f);
  const at::Tensor untouched = out.clone();
  EXPECT_FALSE(onednn_linear(x.t(), w, b, out));  // not contiguous
  EXPECT_FALSE(onednn_linear(x.to(at::kDouble), w, b, out));
  EXPECT_FALSE(onednn_linear(x, at::randn({4, 15}), b, out));  // in features differ
  EXPECT_FALSE(onednn_linear(x, w, at::randn({5}), out));      // bias of another size
  at::Tensor wrong = at::empty({8, 5});
  EXPECT_FALSE(onednn_linear(x, w, b, wrong));                    // out of another size
  EXPECT_FALSE(onednn_linear(x.reshape({2, 4, 16}), w, b, out));  // not 2-D
  EXPECT_TRUE(at::equal(out, untouched));
  if (!onednn_direct_linear_built()) {
    EXPECT_FALSE(onednn_linear(x, w, b, out));  // everything, in a build that does not call oneDNN
  }
}

}  // namespace
}  // namespace ftdr::test
