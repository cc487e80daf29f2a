// per_sample_activation: SiLU and GELU at inference on the CPU give every sample of a batch the bits
// it has alone, on a thread count where libtorch's own ops do not (3 threads, Debian's libtorch
// 1.13), and are libtorch's ops otherwise.
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include "nn/per_sample_activation.hpp"
#include "tests/thread_count.hpp"

namespace ftdr::test {
namespace {

using torchbe::gelu_per_sample;
using torchbe::silu_per_sample;
using torchbe::silu_per_sample_;

// Shapes of the tiny UNet's and SD-1.5's resnets and time embeddings; each of the first three had
// images at::silu over the batch gave other bits than over the image alone on 3 threads.
const std::vector<std::vector<std::int64_t>> kShapes = {
    {4, 32, 64, 64}, {4, 320, 32, 32}, {4, 64, 32, 32}, {4, 1280}, {2, 128, 96, 96}};

TEST(PerSampleActivation, ASamplesSiluDoesNotDependOnTheBatch) {
  c10::InferenceMode inference;
  at::manual_seed(21);
  for (int threads : {1, 2, 3}) {
    ThreadCount count(threads);
    for (const auto& shape : kShapes) {
      const at::Tensor x = at::randn(shape);
      const at::Tensor out = silu_per_sample(x);
      const at::Tensor in_place = silu_per_sample_(x.clone());
      for (std::int64_t s = 0; s < x.size(0); ++s) {
        const at::Tensor alone = silu_per_sample(x.slice(0, s, s + 1));  // one sample: the op itself
        EXPECT_TRUE(at::equal(out.slice(0, s, s + 1), alone))
            << "sample " << s << " of " << x.sizes() << ", " << threads << " threads";
        EXPECT_TRUE(at::equal(in_place.slice(0, s, s + 1), alone))
            << "in place: sample " << s << " of " << x.sizes() << ", " << threads << " threads";
      }
    }
  }
}

// GEGLU's GELU runs over the second half of each row of a projection (a strided view); over
// [4, 256, 512] at::gelu gave 3 of 4 samples other bits on 3 threads.
TEST(PerSampleActivation, ASamplesGeluOfAStridedHalfDoesNotDependOnTheBatch) {
  c10::InferenceMode inference;
  at::manual_seed(23);
  for (int threads : {1, 2, 3}) {
    ThreadCount count(threads);
    for (const auto& shape :
         std::vector<std::vector<std::int64_t>>{{4, 256, 512}, {2, 1024, 256}, {4, 64, 40}}) {
      const at::Tensor half = at::randn(shape).chunk(2, -1)[1];
      const at::Tensor out = gelu_per_sample(half);
      EXPECT_TRUE(out.is_contiguous());
      for (std::int64_t s = 0; s < half.size(0); ++s)
        EXPECT_TRUE(at::equal(out.slice(0, s, s + 1), at::gelu(half.slice(0, s, s + 1))))
            << "sample " << s << " of " << half.sizes() << ", " << threads << " threads";
    }
  }
}

TEST(PerSampleActivation, InPlaceWritesTheTensorItIsGiven) {
  c10::InferenceMode inference;
  at::Tensor x = at::randn({2, 8, 4, 4});
  const at::Tensor expected = at::silu(x);
  const at::Tensor y = silu_per_sample_(x);
  EXPECT_TRUE(y.is_same(x));
  EXPECT_TRUE(at::allclose(x, expected));
}

TEST(PerSampleActivation, UnderAutogradItIsLibtorchsSilu) {
  const at::Tensor x = at::randn({2, 8, 4, 4}).requires_grad_();
  at::Tensor y = silu_per_sample_(x * 1.0);
  y.sum().backward();
  const at::Tensor sig = at::sigmoid(x.detach());
  EXPECT_TRUE(at::allclose(x.grad(), sig * (1 + x.detach() * (1 - sig)), 1e-5, 1e-6));
  EXPECT_TRUE(silu_per_sample(x).requires_grad());
  EXPECT_TRUE(gelu_per_sample(x).requires_grad());
}

}  // namespace
}  // namespace ftdr::test
