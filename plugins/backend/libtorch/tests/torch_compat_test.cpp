// samplers/torch_compat: torch.linspace / torch.cumprod in float32 as torch 1.13.1 (Debian, AVX2
// kernels: the torch that made the reference) computes them. The expected values were printed by
// that torch; libtorch 2.7.1's own linspace gives a different value at each index marked "2.x".
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "samplers/torch_compat.hpp"

namespace ftdr::test {
namespace {

using torchbe::torch_cumprod;
using torchbe::torch_linspace;

// SD's scaled_linear schedule: linspace(sqrt(0.00085), sqrt(0.012), 1000), then squared.
std::vector<float> sd_sqrt_betas() { return torch_linspace(std::sqrt(0.00085), std::sqrt(0.012), 1000); }

TEST(TorchLinspace, MatchesTorch113OnTheStableDiffusionSchedule) {
  const auto v = sd_sqrt_betas();
  ASSERT_EQ(v.size(), 1000u);
  EXPECT_EQ(v[0], 0x1.ddabecp-6f);
  EXPECT_EQ(v[42], 0x1.0a85cep-5f);   // 2.x: ...d0p-5 (a vector lane: base + k * step)
  EXPECT_EQ(v[500], 0x1.1c388ep-4f);  // 2.x: ...8cp-4 (counted down from the end)
  EXPECT_EQ(v[501], 0x1.1c8cf0p-4f);  // 2.x: ...eep-4
  EXPECT_EQ(v[999], 0x1.c0b1bep-4f);
}

TEST(TorchLinspace, ShortRangesAreTheScalarFormula) {
  EXPECT_TRUE(torch_linspace(0.5, 2.0, 0).empty());
  EXPECT_EQ(torch_linspace(0.5, 2.0, 1), std::vector<float>{0.5f});
  EXPECT_EQ(torch_linspace(0.5, 2.0, 2), (std::vector<float>{0.5f, 2.0f}));
  // Fewer than 16 values: all the scalar formula, one fused multiply-add each (unfused: ...58p-1).
  const auto v = torch_linspace(0.238, 2.088, 9);
  ASSERT_EQ(v.size(), 9u);
  EXPECT_EQ(v[3], 0x1.dd0e56p-1f);
  EXPECT_EQ(v[8], 0x1.0b4396p+1f);
}

TEST(TorchCumprod, RunningProductIsFloat64) {
  std::vector<float> alphas;
  for (float s : sd_sqrt_betas()) alphas.push_back(1.0f - s * s);
  const auto acp = torch_cumprod(alphas);
  ASSERT_EQ(acp.size(), 1000u);
  // A float32 running product (numpy.cumprod on float32) ends at 0x1.31675cp-8 instead.
  EXPECT_EQ(acp[273], 0x1.458006p-1f);
  EXPECT_EQ(acp[999], 0x1.316770p-8f);
  EXPECT_TRUE(torch_cumprod({}).empty());
}

}  // namespace
}  // namespace ftdr::test
