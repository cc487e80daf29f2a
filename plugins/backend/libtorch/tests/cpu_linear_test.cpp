// cpu_linear: large float32 GEMMs through oneDNN agree with at::linear, no GEMM's result for a sample
// depends on the batch, small ones are exactly at::linear per sample, and training GEMMs give
// at::linear's gradients.
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gemms_side_by_side.hpp"
#include "nn/cpu_linear.hpp"

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

// The tiny UNet's 4x4-level projections (16 tokens x 64 channels): one BLAS GEMM over a batch of two
// rounded image 1 differently from image 1 alone (OpenBLAS 0.3.21 on an AMD EPYC), which made an
// image change when recovery split its batch.
TEST(CpuLinear, ASmallGemmsResultDoesNotDependOnTheBatch) {
  c10::InferenceMode inference;
  at::manual_seed(7);
  for (std::int64_t in : {64, 256}) {
    const at::Tensor x = at::randn({2, 16, in}), w = at::randn({64, in}), b = at::randn({64});
    ASSERT_LT(16 * in * 64, torchbe::kOneDnnMinMacs);
    const at::Tensor batch = cpu_linear(x, w, b);
    EXPECT_TRUE(at::equal(batch.slice(0, 1, 2), cpu_linear(x.slice(0, 1, 2), w, b))) << "in " << in;
    EXPECT_TRUE(at::equal(batch.slice(0, 0, 1), cpu_linear(x.slice(0, 0, 1), w, b))) << "in " << in;
  }
}

// Per-image vectors [B, in] (time embeddings): each row is its own GEMM. libtorch 2.7.1's MKL
// rounded row 0 of a 2- or 4-row GEMM differently from row 0 alone (128x128 weights), which made
// an image change with the batch (PipelineParity.BatchOfTwoEqualsTwoSingleRuns).
TEST(CpuLinear, APerImageVectorsResultDoesNotDependOnTheBatch) {
  c10::InferenceMode inference;
  at::manual_seed(8);
  for (std::int64_t in : {32, 128, 320}) {
    const at::Tensor x = at::randn({4, in}), w = at::randn({128, in}), b = at::randn({128});
    const at::Tensor batch = cpu_linear(x, w, b);
    ASSERT_EQ(batch.sizes(), (std::vector<std::int64_t>{4, 128}));
    for (std::int64_t r = 0; r < 4; ++r) {
      EXPECT_TRUE(at::equal(batch.slice(0, r, r + 1), at::linear(x.slice(0, r, r + 1), w, b)))
          << "in " << in << " row " << r;
    }
    EXPECT_TRUE(at::equal(cpu_linear(x.slice(0, 0, 2), w, b), batch.slice(0, 0, 2))) << "in " << in;
  }
}

TEST(CpuLinear, SmallGemmsAndGemmsWithoutGradientsAreExactlyAtLinear) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({2, 77, 64}), w = at::randn({128, 64}), b = at::randn({128});
  {
    c10::InferenceMode inference;
    const at::Tensor per_sample =
        at::cat({at::linear(x.slice(0, 0, 1), w, b), at::linear(x.slice(0, 1, 2), w, b)});
    EXPECT_TRUE(at::equal(cpu_linear(x, w, b), per_sample));
    EXPECT_TRUE(at::equal(cpu_linear(x.slice(0, 0, 1), w, b), at::linear(x.slice(0, 0, 1), w, b)));
  }
  const at::Tensor wg = w.clone().requires_grad_(true);
  EXPECT_TRUE(at::equal(cpu_linear(x, wg, b), at::linear(x, wg, b)));  // grad mode, small
  const at::Tensor big = at::randn({1, 4096, 320}), wb = at::randn({640, 320});
  EXPECT_TRUE(at::equal(cpu_linear(big, wb, at::Tensor()), at::linear(big, wb)));  // nothing needs grad
}

// With the BLAS on one thread the samples' GEMMs run side by side (nn/gemm_workers.hpp), written
// straight into the batch's output: still exactly at::linear per sample, with and without a bias.
TEST(CpuLinear, SmallGemmsSideBySideAreExactlyAtLinearPerSample) {
  GemmsSideBySide on;
  ASSERT_EQ(torchbe::gemm_workers(), 2);
  c10::InferenceMode inference;
  at::manual_seed(9);
  const at::Tensor x = at::randn({3, 256, 64}), w = at::randn({512, 64}), b = at::randn({512});
  for (const at::Tensor& bias : {b, at::Tensor()}) {
    const at::Tensor got = cpu_linear(x, w, bias);
    for (std::int64_t s = 0; s < 3; ++s)
      EXPECT_TRUE(at::equal(got[s], at::linear(x[s], w, bias)))
          << "sample " << s << (bias.defined() ? "" : ", no bias");
  }
}

// Training: one oneDNN GEMM per direction; values and all three gradients agree with at::linear.
TEST(CpuLinear, TrainingGemmsAndTheirGradientsAgreeWithAtLinear) {
  at::manual_seed(6);
  const at::Tensor x0 = at::randn({8, 64, 128}), w0 = at::randn({256, 128}) * 0.1, b0 = at::randn({256});
  ASSERT_GE(8 * 64 * 128 * 256, torchbe::kOneDnnMinTrainingMacs);
  const at::Tensor upstream = at::randn({8, 64, 256});
  auto run = [&](bool ours, bool with_bias) {
    at::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
    at::Tensor b = with_bias ? b0.clone().requires_grad_(true) : at::Tensor();
    const at::Tensor y = ours ? cpu_linear(x, w, b) : at::linear(x, w, b);
    (y * upstream).sum().backward();
    return std::vector<at::Tensor>{y.detach(), x.grad(), w.grad(), with_bias ? b.grad() : at::zeros({1})};
  };
  for (bool with_bias : {true, false}) {
    const auto got = run(true, with_bias), expected = run(false, with_bias);
    const char* names[] = {"output", "grad x", "grad weight", "grad bias"};
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(got[i].sizes(), expected[i].sizes()) << names[i];
      const double scale = expected[i].abs().max().item<double>();
      EXPECT_LE((got[i] - expected[i]).abs().max().item<double>(), 1e-5 * std::max(1.0, scale))
          << names[i] << (with_bias ? " (with bias)" : " (no bias)");
    }
  }
}

}  // namespace
}  // namespace ftdr::test
