// Attention modes (nn/attention.hpp): sliced and (where available) SDPA equal naive; masks and upcast.
#include "nn/attention.hpp"

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include <cmath>
#include <string>
#include <utility>

#include "gemms_side_by_side.hpp"

namespace {

using ftdr::torchbe::attention;
using ftdr::torchbe::AttentionMode;
using ftdr::torchbe::AttentionSettings;

// softmax(q k^T / sqrt(d)) v per head, written out with plain loops over heads.
at::Tensor reference_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads,
                               const at::Tensor& mask = {}) {
  const int64_t d = q.size(2) / heads;
  std::vector<at::Tensor> outs;
  for (int64_t h = 0; h < heads; ++h) {
    auto qh = q.slice(2, h * d, (h + 1) * d).to(at::kDouble),
         kh = k.slice(2, h * d, (h + 1) * d).to(at::kDouble);
    auto vh = v.slice(2, h * d, (h + 1) * d).to(at::kDouble);
    auto s = at::matmul(qh, kh.transpose(1, 2)) / std::sqrt(static_cast<double>(d));
    if (mask.defined()) s = s + mask.to(at::kDouble);
    outs.push_back(at::matmul(at::softmax(s, -1), vh));
  }
  return at::cat(outs, 2).to(q.scalar_type());
}

TEST(Attention, ModesAgreeWithReference) {
  at::manual_seed(0);
  auto q = at::randn({2, 37, 24}), k = at::randn({2, 11, 24}), v = at::randn({2, 11, 24});
  const auto expected = reference_attention(q, k, v, 3);
  for (auto settings :
       {AttentionSettings{AttentionMode::naive, 0}, AttentionSettings{AttentionMode::sliced, 0},
        AttentionSettings{AttentionMode::sliced, 5}, AttentionSettings{AttentionMode::sliced, 100},
        AttentionSettings{AttentionMode::sdpa, 0}}) {
    auto out = attention(q, k, v, 3, settings, false);
    EXPECT_LE((out - expected).abs().max().item<double>(), 1e-5)
        << static_cast<int>(settings.mode) << " " << settings.slice_size;
  }
}

// On the CPU, a sample's scores of 32 MiB or more are computed one head at a time (nn/attention.hpp):
// naive with 2 heads of 2048 x 2048, sliced by 1024 rows with 4. The route depends on the sample,
// not the batch, so an image is the same bits alone and in a batch (batch splitting relies on
// that); the autograd route (all heads at once) is the same math, rounded by a batched GEMM.
TEST(Attention, PerHeadRouteKeepsAnImageIndependentOfItsBatch) {
  at::manual_seed(4);
  auto q = at::randn({2, 2048, 32}), k = at::randn({2, 2048, 32}), v = at::randn({2, 2048, 32});
  const auto one = [](const at::Tensor& x) { return x.slice(0, 1, 2); };
  for (const auto& [settings, heads] : {std::pair{AttentionSettings{AttentionMode::naive, 0}, 2},
                                        std::pair{AttentionSettings{AttentionMode::sliced, 1024}, 4}}) {
    SCOPED_TRACE(static_cast<int>(settings.mode));
    at::Tensor both, alone;
    {
      c10::InferenceMode inference;
      both = attention(q, k, v, heads, settings, false);
      alone = attention(one(q), one(k), one(v), heads, settings, false);
    }
    EXPECT_TRUE(at::equal(both[1], alone[0]));
    const at::Tensor expected = reference_attention(one(q), one(k), one(v), heads);
    EXPECT_LE((both[1] - expected[0]).abs().max().item<double>(), 1e-5);
    const at::Tensor with_grad = attention(q.clone().requires_grad_(true), k, v, heads, settings, false);
    EXPECT_LE((both - with_grad.detach()).abs().max().item<double>(), 1e-6);
  }
}

// The per-head route scales inside the GEMM (beta = 0) without a mask, and apart with one: a mask's
// -inf left in the reused score buffer by one head must not reach the next head's scores, and
// bfloat16 scores (libtorch's own GEMM, not BLAS) start from a zeroed buffer. No NaN, reference math.
TEST(Attention, PerHeadRouteWithAMaskAndInBfloat16) {
  at::manual_seed(5);
  auto q = at::randn({1, 2048, 32}), k = at::randn({1, 2048, 32}), v = at::randn({1, 2048, 32});
  const auto mask = at::full({2048, 2048}, -INFINITY).triu(1);
  c10::InferenceMode inference;
  const auto masked = attention(q, k, v, 2, {AttentionMode::naive, 0}, false, mask);
  EXPECT_FALSE(masked.isnan().any().item<bool>());
  EXPECT_LE((masked - reference_attention(q, k, v, 2, mask)).abs().max().item<double>(), 1e-5);
  const auto half = attention(q.to(at::kBFloat16), k.to(at::kBFloat16), v.to(at::kBFloat16), 4,
                              {AttentionMode::naive, 0}, false);
  EXPECT_FALSE(half.isnan().any().item<bool>());
  EXPECT_LE((half.to(at::kFloat) - reference_attention(q, k, v, 4)).abs().max().item<double>(), 5e-2);
}

// With the BLAS on one thread every size takes the per-head route, heads side by side and each
// slice cut into one block of rows per worker (nn/gemm_workers.hpp): an image is still the same
// bits alone and in a batch, masked or not, sliced or not (100 rows: blocks of 50 and a last of 6),
// with the reference's math, and within float rounding of the heads one at a time.
TEST(Attention, HeadsSideBySideKeepAnImageIndependentOfItsBatch) {
  ftdr::test::GemmsSideBySide on;
  ASSERT_EQ(ftdr::torchbe::gemm_workers(), 2);
  at::manual_seed(6);
  const auto one = [](const at::Tensor& x) { return x.slice(0, 1, 2); };
  c10::InferenceMode inference;
  // 8 heads of 256 x 256 scores: each head one worker's whole; one head of 1100 x 1100 (4.6 MiB, over
  // kCutHeadMinScoreBytes): cut between the workers unless sliced.
  for (const auto& [tokens, heads] : {std::pair<int64_t, int64_t>{256, 8}, {1100, 1}}) {
    const auto q = at::randn({2, tokens, 64}), k = at::randn({2, tokens, 64}), v = at::randn({2, tokens, 64});
    const auto causal = at::full({tokens, tokens}, -INFINITY).triu(1);
    for (const auto& settings :
         {AttentionSettings{AttentionMode::naive, 0}, AttentionSettings{AttentionMode::sliced, 100}}) {
      for (const at::Tensor& mask : {at::Tensor(), causal}) {
        SCOPED_TRACE(std::to_string(tokens) + " tokens, " + (settings.slice_size ? "sliced" : "naive") +
                     (mask.defined() ? ", masked" : ""));
        const at::Tensor both = attention(q, k, v, heads, settings, false, mask);
        EXPECT_TRUE(at::equal(both[1], attention(one(q), one(k), one(v), heads, settings, false, mask)[0]));
        EXPECT_LE((both - reference_attention(q, k, v, heads, mask)).abs().max().item<double>(), 1e-5);
        ftdr::torchbe::note_blas_threads(0);  // one at a time
        const at::Tensor serial = attention(q, k, v, heads, settings, false, mask);
        ftdr::torchbe::note_blas_threads(1);
        EXPECT_LE((both - serial).abs().max().item<double>(), 1e-6);
      }
    }
  }
}

TEST(Attention, CausalMaskInEveryMode) {
  at::manual_seed(1);
  auto x = at::randn({1, 9, 8});
  auto mask = at::full({9, 9}, -INFINITY).triu(1);
  const auto expected = reference_attention(x, x, x, 2, mask);
  for (auto mode : {AttentionMode::naive, AttentionMode::sliced, AttentionMode::sdpa}) {
    auto out = attention(x, x, x, 2, {mode, 4}, false, mask);
    EXPECT_LE((out - expected).abs().max().item<double>(), 1e-5);
  }
  // Row 0 sees only itself.
  EXPECT_TRUE(at::allclose(attention(x, x, x, 1, {}, false, mask)[0][0], x[0][0]));
}

// The fused kernel itself (libtorch >= 2; on 1.x AttentionMode::sdpa is naive, so there is nothing to
// compare): multi-head cross-attention with a per-batch key mask, as the UNet and CLIP call it.
TEST(Attention, SdpaMatchesNaiveAtF32) {
  if (!ftdr::torchbe::sdpa_available())
    GTEST_SKIP() << "libtorch " << TORCH_VERSION << " has no at::scaled_dot_product_attention (needs >= 2)";
  at::manual_seed(3);
  auto q = at::randn({2, 64, 40}), k = at::randn({2, 77, 40}), v = at::randn({2, 77, 40});
  auto mask = at::zeros({2, 1, 1, 77});
  mask.index_put_({1, at::indexing::Slice(), at::indexing::Slice(), at::indexing::Slice(60)}, -INFINITY);
  for (const at::Tensor& m : {at::Tensor(), mask}) {
    const auto naive = attention(q, k, v, 5, {AttentionMode::naive, 0}, false, m);
    const auto sdpa = attention(q, k, v, 5, {AttentionMode::sdpa, 0}, false, m);
    ASSERT_EQ(sdpa.sizes(), naive.sizes());
    EXPECT_LE((sdpa - naive).abs().max().item<double>(), 1e-4) << (m.defined() ? "masked" : "unmasked");
  }
}

TEST(Attention, UpcastInHalfPrecisionStaysClose) {
  at::manual_seed(2);
  auto q = at::randn({1, 16, 16}), k = at::randn({1, 16, 16}), v = at::randn({1, 16, 16});
  const auto expected = reference_attention(q, k, v, 2);
  // CPU half matmul is not available on every libtorch build: bfloat16 is.
  auto out = attention(q.to(at::kBFloat16), k.to(at::kBFloat16), v.to(at::kBFloat16), 2, {}, true);
  EXPECT_EQ(out.scalar_type(), at::kBFloat16);
  EXPECT_LE((out.to(at::kFloat) - expected).abs().max().item<double>(), 5e-2);
}

}  // namespace
