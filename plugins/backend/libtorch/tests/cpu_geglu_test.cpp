// cpu_geglu: GEGLU's gating in one pass, against hidden * gelu(gate) computed in double, on rows of
// every tail length; NaN and infinities as libtorch's GELU gives them; an image the same alone, in a
// batch and on any thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nn/cpu_geglu.hpp"
#include "thread_count.hpp"

namespace ftdr::test {
namespace {

using torchbe::cpu_geglu;

// hidden * exact GELU(gate), in double.
at::Tensor reference(const at::Tensor& h) {
  const auto parts = h.to(at::kDouble).chunk(2, -1);
  return parts[0] * at::gelu(parts[1]);
}

TEST(CpuGeglu, MatchesExactGeluWithinTheErfApproximation) {
  if (!torchbe::cpu_geglu_fast(at::zeros({2})))
    GTEST_SKIP() << "no AVX2/FMA here: cpu_geglu is libtorch's GELU";
  at::manual_seed(7);
  for (std::int64_t c : {1, 3, 8, 13, 64, 256, 1280}) {
    SCOPED_TRACE(c);
    for (double spread : {0.5, 3.0, 12.0}) {  // gates up to about +-60: far tails of erf both ways
      const at::Tensor h = at::randn({21, 2 * c}) * spread;
      const at::Tensor hidden = h.narrow(-1, 0, c).to(at::kDouble), gate = h.narrow(-1, c, c).to(at::kDouble);
      const at::Tensor ours = cpu_geglu(h).to(at::kDouble);
      // erf's absolute error (1.5e-7 for the formula, doubled for evaluating it in float32) scaled
      // by the GELU's 0.5 |gate| and the hidden value, plus float32 rounding of the result.
      const at::Tensor bound = 3e-7 * 0.5 * gate.abs() * hidden.abs() + 3e-7 * reference(h).abs() + 1e-30;
      EXPECT_TRUE(((ours - reference(h)).abs() <= bound).all().item<bool>())
          << "spread " << spread << ", worst excess "
          << ((ours - reference(h)).abs() - bound).max().item<double>();
    }
  }
}

TEST(CpuGeglu, AnImageIsTheSameAloneInABatchAndOnAnyThreadCount) {
  if (!torchbe::cpu_geglu_fast(at::zeros({2})))
    GTEST_SKIP() << "no AVX2/FMA here: cpu_geglu is libtorch's GELU";
  at::manual_seed(8);
  const at::Tensor h = at::randn({2, 300, 2 * 77});  // 23100 outputs per image: split on 2+ threads
  at::Tensor whole;
  {
    ThreadCount one(1);
    whole = cpu_geglu(h);
  }
  for (int threads : {2, 3}) {
    ThreadCount n(threads);
    EXPECT_TRUE(at::equal(cpu_geglu(h), whole)) << threads << " threads";
  }
  EXPECT_TRUE(at::equal(cpu_geglu(h.narrow(0, 1, 1))[0], whole[1]));
}

TEST(CpuGeglu, NonFiniteGatesAsLibtorchsGelu) {
  if (!torchbe::cpu_geglu_fast(at::zeros({2})))
    GTEST_SKIP() << "no AVX2/FMA here: cpu_geglu is libtorch's GELU";
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor gate = at::tensor({inf, -inf, nan, 0.0f, -0.0f, 100.0f, -100.0f, 1.0f, -1.0f});
  const at::Tensor h = at::cat({at::ones_like(gate), gate});  // hidden = 1: the GELU itself
  const at::Tensor ours = cpu_geglu(h), ref = at::gelu(gate);
  EXPECT_TRUE(at::equal(ours.isnan(), ref.isnan())) << ours << ref;
  EXPECT_TRUE(at::allclose(ours.masked_select(~ref.isnan()), ref.masked_select(~ref.isnan()), 1e-6, 1e-7))
      << ours << ref;
}

TEST(CpuGeglu, OtherTensorsGoToLibtorchsGelu) {
  at::manual_seed(9);
  const at::Tensor h = at::randn({2, 5, 12}).to(at::kDouble);
  EXPECT_FALSE(torchbe::cpu_geglu_fast(h));
  const auto parts = h.chunk(2, -1);
  EXPECT_TRUE(at::equal(cpu_geglu(h), parts[0] * at::gelu(parts[1])));
  EXPECT_FALSE(torchbe::cpu_geglu_fast(at::randn({2, 5, 12}).transpose(1, 2)));
  EXPECT_FALSE(torchbe::cpu_geglu_fast(at::randn({4, 7})));  // an odd last dimension
}

}  // namespace
}  // namespace ftdr::test
