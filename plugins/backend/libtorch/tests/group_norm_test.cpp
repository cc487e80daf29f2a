// GroupNorm on the CPU: an image's result does not depend on its batch. libtorch's channels-last
// kernel gave every image of a batch of 4 other bits than the image alone on 2 threads; a
// channels-last batch is now normalized image by image, and other non-contiguous inputs
// (attention's transposed output) in the contiguous layout.
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include "nn/group_norm.hpp"
#include "tests/thread_count.hpp"

namespace ftdr::test {
namespace {

using torchbe::GroupNorm;

TEST(GroupNorm, AChannelsLastImagesResultDoesNotDependOnTheBatch) {
  c10::InferenceMode inference;
  at::manual_seed(22);
  for (int threads : {1, 2, 3}) {
    ThreadCount count(threads);
    for (std::int64_t channels : {64, 512}) {
      GroupNorm norm(torch::nn::GroupNormOptions(32, channels).eps(1e-6));
      norm->weight.uniform_(0.5, 1.5);
      norm->bias.uniform_(-0.5, 0.5);
      const at::Tensor x = at::randn({4, channels, 32, 32}).contiguous(at::MemoryFormat::ChannelsLast);
      const at::Tensor batch = norm(x);
      for (std::int64_t s = 0; s < 4; ++s) {
        const at::Tensor alone = norm(x.slice(0, s, s + 1));
        EXPECT_TRUE(at::equal(batch.slice(0, s, s + 1), alone))
            << "image " << s << ", " << channels << " channels, " << threads << " threads";
      }
      // The same statistics as libtorch's own GroupNorm, within float32 rounding.
      const at::Tensor own = at::group_norm(x, 32, norm->weight, norm->bias, 1e-6);
      EXPECT_LE((batch - own).abs().max().item<double>(), 1e-5);
    }
  }
}

TEST(GroupNorm, AnotherStridedInputIsNormalizedContiguous) {
  c10::InferenceMode inference;
  at::manual_seed(25);
  GroupNorm norm(torch::nn::GroupNormOptions(8, 32).eps(1e-6));
  // [B, C, H*W] seen through a transpose of [B, H*W, C], as attention hands it back.
  const at::Tensor tokens = at::randn({2, 64, 32});
  const at::Tensor strided = tokens.transpose(1, 2);
  ASSERT_FALSE(strided.is_contiguous());
  EXPECT_TRUE(at::equal(norm(strided), norm(strided.contiguous())));
}

}  // namespace
}  // namespace ftdr::test
