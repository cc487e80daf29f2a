// cpu_silu: SiLU with our own exp against SiLU in double, on every tail length, any dense layout,
// non-finite inputs as libtorch's, and the same bits on any thread count.
#include <gtest/gtest.h>

#include <limits>

#include "nn/cpu_silu.hpp"
#include "thread_count.hpp"

namespace ftdr::test {
namespace {

at::Tensor silu_of(const at::Tensor& x) {
  at::Tensor out = at::empty_like(x);
  torchbe::cpu_silu_out(out, x);
  return out;
}

TEST(CpuSilu, MatchesSiluInDoubleWithinAFewUlp) {
  if (!torchbe::cpu_silu_fast(at::zeros({1}))) GTEST_SKIP() << "no AVX2/FMA here: SiLU is libtorch's";
  at::manual_seed(10);
  for (std::int64_t n : {1, 7, 8, 9, 31, 4096, 70001}) {
    for (double spread : {1.0, 10.0, 100.0}) {
      const at::Tensor x = at::randn({n}) * spread;
      const at::Tensor ref = at::silu(x.to(at::kDouble));
      const at::Tensor err = (silu_of(x).to(at::kDouble) - ref).abs();
      // Below x = -87.3 the exp is 0 (nn/avx2_math.hpp) where SiLU is under 1e-35 in magnitude.
      EXPECT_TRUE((err <= 5e-7 * ref.abs() + 1e-33).all().item<bool>())
          << n << " elements, spread " << spread << ": worst "
          << ((err - 1e-33) / ref.abs()).max().item<double>();
    }
  }
}

TEST(CpuSilu, ChannelsLastInPlaceAndOnAnyThreadCountTheSameBits) {
  if (!torchbe::cpu_silu_fast(at::zeros({1}))) GTEST_SKIP() << "no AVX2/FMA here: SiLU is libtorch's";
  at::manual_seed(11);
  const at::Tensor x = at::randn({2, 24, 37, 41}) * 4;  // 72816 elements: blocks on 3 threads and a tail
  at::Tensor one_thread;
  {
    ThreadCount one(1);
    one_thread = silu_of(x);
  }
  ThreadCount three(3);
  EXPECT_TRUE(at::equal(silu_of(x), one_thread));
  EXPECT_TRUE(at::equal(silu_of(x[1]), one_thread[1]));  // an image alone
  const at::Tensor cl = x.contiguous(at::MemoryFormat::ChannelsLast);
  ASSERT_TRUE(torchbe::cpu_silu_fast(cl));
  at::Tensor in_place = cl.clone(at::MemoryFormat::ChannelsLast);
  torchbe::cpu_silu_out(in_place, in_place);
  EXPECT_TRUE(in_place.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(at::equal(in_place, one_thread));
}

TEST(CpuSilu, NonFiniteAsLibtorchAndOtherTensorsRefused) {
  if (!torchbe::cpu_silu_fast(at::zeros({1}))) GTEST_SKIP() << "no AVX2/FMA here: SiLU is libtorch's";
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor x = at::tensor({inf, -inf, nan, 0.0f, -0.0f, 90.0f, -90.0f});
  const at::Tensor ours = silu_of(x), ref = at::silu(x);
  EXPECT_TRUE(at::equal(ours.isnan(), ref.isnan())) << ours << ref;
  EXPECT_TRUE(at::allclose(ours.masked_select(~ref.isnan()), ref.masked_select(~ref.isnan()), 1e-6, 1e-30))
      << ours << ref;
  EXPECT_FALSE(torchbe::cpu_silu_fast(at::randn({4, 6}).t().narrow(0, 0, 3)));  // not dense
  EXPECT_FALSE(torchbe::cpu_silu_fast(at::randn({4}).to(at::kDouble)));
  at::Tensor wrong = at::empty({5});
  EXPECT_THROW(torchbe::cpu_silu_out(wrong, at::randn({4})), c10::Error);
}

}  // namespace
}  // namespace ftdr::test
