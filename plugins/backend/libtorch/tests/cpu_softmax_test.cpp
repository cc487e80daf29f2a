// cpu_softmax: the attention's softmax with its own exp, against libtorch's on rows of every tail
// length, with masked (-inf), fully masked and NaN rows kept as libtorch keeps them.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nn/cpu_softmax.hpp"
#include "thread_count.hpp"

namespace ftdr::test {
namespace {

using torchbe::cpu_softmax;

constexpr float kInf = std::numeric_limits<float>::infinity();

// Largest |a - b| relative to b's row maximum (every row's max probability is >= 1 / cols).
double worst_relative(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs() / std::get<0>(b.max(-1, true))).max().item<double>();
}

TEST(CpuSoftmax, MatchesLibtorchOnEveryRowLengthWithinAFewUlp) {
  if (!torchbe::cpu_softmax_fast(at::zeros({1})))
    GTEST_SKIP() << "no AVX2/FMA here: cpu_softmax is at::softmax";
  at::manual_seed(3);
  for (std::int64_t cols : {1, 2, 7, 8, 9, 15, 16, 17, 77, 256, 1000, 4096}) {
    SCOPED_TRACE(cols);
    // Attention-like scores (scale 1-10) and a spread that sends some exps below the normal floats.
    for (double spread : {1.0, 10.0, 60.0}) {
      const at::Tensor x = at::randn({37, cols}) * spread;
      const at::Tensor ours = cpu_softmax(x), ref = at::softmax(x, -1);
      EXPECT_LE(worst_relative(ours, ref), 4e-7) << "spread " << spread;
      EXPECT_LE((ours.sum(-1) - 1).abs().max().item<double>(), 2e-6 + 1e-7 * cols) << "spread " << spread;
    }
  }
}

TEST(CpuSoftmax, EachRowIsTheSameAloneInABatchAndOnAnyThreadCount) {
  at::manual_seed(4);
  const at::Tensor x = at::randn({300, 77}) * 4;  // 23100 elements a thread: split on 2+ threads
  const at::Tensor big = at::randn({3000, 77}) * 4;
  at::Tensor whole;
  {
    ThreadCount one(1);
    whole = cpu_softmax(big);
  }
  for (int threads : {2, 3}) {
    ThreadCount n(threads);
    EXPECT_TRUE(at::equal(cpu_softmax(big), whole)) << threads << " threads";
  }
  for (std::int64_t r : {0, 1, 150, 299}) EXPECT_TRUE(at::equal(cpu_softmax(x[r]), cpu_softmax(x)[r])) << r;
}

TEST(CpuSoftmax, MaskedAndNonFiniteRowsAsLibtorch) {
  at::Tensor x = at::randn({4, 13});
  x[0].index_put_({at::indexing::Slice(0, 13, 2)}, -kInf);  // masked positions
  x[1].fill_(-kInf);                                        // fully masked
  x[2][5] = std::numeric_limits<float>::quiet_NaN();
  x[3][12] = std::numeric_limits<float>::quiet_NaN();  // in the tail (13 = 8 + 5)
  const at::Tensor ours = cpu_softmax(x), ref = at::softmax(x, -1);
  EXPECT_TRUE(at::equal(ours[0].eq(0), ref[0].eq(0)));  // a masked position is exactly 0
  EXPECT_LE(worst_relative(ours[0], ref[0]), 4e-7);
  EXPECT_TRUE(ref[1].isnan().all().item<bool>());
  EXPECT_TRUE(ours[1].isnan().all().item<bool>());
  EXPECT_TRUE(ours[2].isnan().all().item<bool>());
  EXPECT_TRUE(ours[3].isnan().all().item<bool>());
  EXPECT_TRUE(ref[2].isnan().all().item<bool>());
}

TEST(CpuSoftmax, InPlaceAndOtherTensorsAsAtSoftmax) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({2, 3, 40});
  at::Tensor y = x.clone();
  torchbe::cpu_softmax_out(y, y);
  EXPECT_TRUE(at::equal(y, cpu_softmax(x)));
  // Not its kernel's: a transposed view and double go to libtorch, bit for bit.
  const at::Tensor t = x.transpose(1, 2);
  EXPECT_FALSE(torchbe::cpu_softmax_fast(t));
  EXPECT_TRUE(at::equal(cpu_softmax(t), at::softmax(t, -1)));
  const at::Tensor d = x.to(at::kDouble);
  EXPECT_TRUE(at::equal(cpu_softmax(d), at::softmax(d, -1)));
  at::Tensor wrong = at::empty({2, 3, 41});
  EXPECT_THROW(torchbe::cpu_softmax_out(wrong, x), c10::Error);
}

}  // namespace
}  // namespace ftdr::test
