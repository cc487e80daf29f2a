// GroupNorm on the CPU: an image's result does not depend on its batch. libtorch's channels-last
// kernel gave every image of a batch of 4 other bits than the image alone on 2 threads; a
// channels-last batch is now normalized image by image (nn/image_group_norm.hpp, the same bits on
// any thread count), and other non-contiguous inputs (attention's transposed output) in the
// contiguous layout. forward_owned normalizes a tensor nothing else holds in place, in either layout.
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include <map>

#include "nn/group_norm.hpp"
#include "tests/thread_count.hpp"

namespace ftdr::test {
namespace {

using torchbe::GroupNorm;

TEST(GroupNorm, AChannelsLastImagesResultDoesNotDependOnTheBatch) {
  c10::InferenceMode inference;
  at::manual_seed(22);
  std::map<std::int64_t, at::Tensor> one_thread;  // channels -> the batch's result on 1 thread
  for (int threads : {1, 2, 3}) {
    ThreadCount count(threads);
    for (std::int64_t channels : {64, 512}) {
      at::manual_seed(channels);
      GroupNorm norm(torch::nn::GroupNormOptions(32, channels).eps(1e-6));
      norm->weight.uniform_(0.5, 1.5);
      norm->bias.uniform_(-0.5, 0.5);
      // 40x40: 1600 pixels, more than one block of partial sums, and not a whole number of them.
      const at::Tensor x = at::randn({4, channels, 40, 40}).contiguous(at::MemoryFormat::ChannelsLast);
      const at::Tensor batch = norm(x);
      EXPECT_TRUE(batch.is_contiguous(at::MemoryFormat::ChannelsLast));
      if (threads == 1) one_thread[channels] = batch;
      EXPECT_TRUE(at::equal(batch, one_thread[channels]))
          << channels << " channels, " << threads << " threads";
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

class GroupNormOwned : public ::testing::TestWithParam<at::MemoryFormat> {};

TEST_P(GroupNormOwned, NormalizesInPlaceOnlyATensorNothingElseHolds) {
  c10::InferenceMode inference;
  at::manual_seed(23);
  GroupNorm norm(torch::nn::GroupNormOptions(8, 32).eps(1e-6));
  norm->weight.uniform_(0.5, 1.5);
  norm->bias.uniform_(-0.5, 0.5);
  // 2 images of 32 channels at 24x20: channels of 480 pixels (not a multiple of the 8 running sums),
  // channels-last blocks of 256 pixels and a part.
  const at::Tensor x = at::randn({2, 32, 24, 20}).contiguous(GetParam());
  const at::Tensor expected = norm->forward_owned(x.clone());
  EXPECT_TRUE(expected.is_contiguous(GetParam()));
  EXPECT_LE((expected - at::group_norm(x, 8, norm->weight, norm->bias, 1e-6)).abs().max().item<double>(),
            1e-5)
      << "not libtorch's GroupNorm within float32 rounding";
  for (int threads : {1, 3}) {
    ThreadCount count(threads);
    EXPECT_TRUE(at::equal(norm->forward_owned(x.clone()), expected)) << threads << " threads";
  }

  at::Tensor owned = x.clone();  // clone keeps the channels-last layout
  const void* storage = owned.data_ptr();
  const at::Tensor in_place = norm->forward_owned(std::move(owned));
  EXPECT_EQ(in_place.data_ptr(), storage) << "the sole reference was not normalized in place";
  EXPECT_TRUE(at::equal(in_place, expected));

  const at::Tensor kept = x.clone();  // the caller keeps its reference: a new tensor
  const at::Tensor copy = norm->forward_owned(kept);
  EXPECT_NE(copy.data_ptr(), kept.data_ptr());
  EXPECT_TRUE(at::equal(kept, x));
  EXPECT_TRUE(at::equal(copy, expected));

  at::Tensor viewed = x.clone();  // a view shares the storage: left as it was
  const at::Tensor view = viewed.slice(0, 1, 2);
  const at::Tensor from_viewed = norm->forward_owned(std::move(viewed));
  EXPECT_TRUE(at::equal(view, x.slice(0, 1, 2)));
  EXPECT_TRUE(at::equal(from_viewed, expected));
}

INSTANTIATE_TEST_SUITE_P(Layouts, GroupNormOwned,
                         ::testing::Values(at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast),
                         [](const auto& info) {
                           return info.param == at::MemoryFormat::Contiguous ? "Contiguous" : "ChannelsLast";
                         });

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
