// cpu_linear: large float32 GEMMs through oneDNN agree with at::linear, do not depend on the batch
// size, and small ones (and autograd) are exactly at::linear.
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include "nn/cpu_linear.h"

namespace ftdr::test {
namespace {

using torchbe::cpu_linear;

TEST(CpuLinear, LargeGemmsAgreeWithAtLinear) {
  c10::InferenceMode inference;
  at::manual_seed(3);
  const at::Tensor x = at::randn({2, 4096, 320}), w = at::randn({640, 320}) * 0.05, b = at::randn({640});
  ASSERT_GE(4096 * 320 * 640, torchbe::kOneDnnMinMacs);
  const at::Tensor expected = at::linear(x, w, b);
  const at::Tensor got = cpu_linear(x, w, b);
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_LE((got - expected).abs().max().item<double>(), 1e-4);
  EXPECT_LE((cpu_linear(x, w, at::Tensor()) - at::linear(x, w)).abs().max().item<double>(), 1e-4);
}

TEST(CpuLinear, ASamplesResultDoesNotDependOnTheBatch) {
  c10::InferenceMode inference;
  at::manual_seed(4);
  const at::Tensor x = at::randn({3, 4096, 320}), w = at::randn({320, 320}) * 0.05, b = at::randn({320});
  const at::Tensor batch = cpu_linear(x, w, b);
  const at::Tensor alone = cpu_linear(x.slice(0, 1, 2), w, b);
  EXPECT_TRUE(at::equal(batch.slice(0, 1, 2), alone));
}

TEST(CpuLinear, SmallGemmsAndAutogradAreExactlyAtLinear) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({2, 77, 64}), w = at::randn({128, 64}), b = at::randn({128});
  {
    c10::InferenceMode inference;
    EXPECT_TRUE(at::equal(cpu_linear(x, w, b), at::linear(x, w, b)));
  }
  const at::Tensor big = at::randn({1, 4096, 320}), wb = at::randn({640, 320}).requires_grad_(true);
  const at::Tensor y = cpu_linear(big, wb, at::Tensor());  // grad mode on: at::linear, differentiable
  EXPECT_TRUE(y.requires_grad());
  EXPECT_TRUE(at::equal(y, at::linear(big, wb)));
}

}  // namespace
}  // namespace ftdr::test
