// nn/'s layers: outside an EmptyWeights scope they are libtorch's layers (same parameters from the
// same seed, same results); inside one they are built at the scope's dtype without drawing a random
// number; and load_model builds every network that way (the shipped demo model loads without
// touching the RNG).
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>
#include <torch/nn.h>

#include <filesystem>
#include <string>

#include "nn/conv_2d.hpp"
#include "nn/embedding.hpp"
#include "nn/empty_weights.hpp"
#include "nn/group_norm.hpp"
#include "nn/layer_norm.hpp"
#include "nn/linear.hpp"
#include "pipeline/loaded_model.hpp"

namespace ftdr::test {
namespace {

namespace tb = torchbe;
namespace nn = torch::nn;

// Built from the same seed, ours and libtorch's have the same parameters under the same names and
// give the same result for `x`.
template <typename Ours, typename Theirs>
void expect_same_layer(const std::string& what, const std::function<Ours()>& ours,
                       const std::function<Theirs()>& theirs, const at::Tensor& x) {
  at::manual_seed(11);
  Ours a = ours();
  at::manual_seed(11);
  Theirs b = theirs();
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size()) << what;
  for (const auto& item : pb) {
    ASSERT_TRUE(pa.contains(item.key())) << what << ": no " << item.key();
    EXPECT_TRUE(at::equal(pa[item.key()], item.value())) << what << " " << item.key();
    EXPECT_TRUE(pa[item.key()].requires_grad()) << what << " " << item.key();
  }
  c10::InferenceMode inference;
  EXPECT_TRUE(at::equal(a->forward(x), b->forward(x))) << what;
}

TEST(EmptyWeights, OutsideAScopeLayersAreLibtorchs) {
  const at::Tensor seq = at::randn({2, 5, 16});
  const at::Tensor image = at::randn({2, 8, 9, 9});
  expect_same_layer<tb::Linear, nn::Linear>(
      "Linear", [] { return tb::Linear(16, 12); }, [] { return nn::Linear(16, 12); }, seq);
  expect_same_layer<tb::Linear, nn::Linear>(
      "Linear without bias", [] { return tb::Linear(nn::LinearOptions(16, 12).bias(false)); },
      [] { return nn::Linear(nn::LinearOptions(16, 12).bias(false)); }, seq);
  const auto conv3 = nn::Conv2dOptions(8, 6, 3).stride(2).padding(1);
  expect_same_layer<tb::Conv2d, nn::Conv2d>(
      "Conv2d 3x3", [&] { return tb::Conv2d(conv3); }, [&] { return nn::Conv2d(conv3); }, image);
  const auto conv1 = nn::Conv2dOptions(8, 4, 1).bias(false);
  expect_same_layer<tb::Conv2d, nn::Conv2d>(
      "Conv2d 1x1", [&] { return tb::Conv2d(conv1); }, [&] { return nn::Conv2d(conv1); }, image);
  const auto gn = nn::GroupNormOptions(4, 8).eps(1e-6);
  expect_same_layer<tb::GroupNorm, nn::GroupNorm>(
      "GroupNorm", [&] { return tb::GroupNorm(gn); }, [&] { return nn::GroupNorm(gn); }, image);
  const auto ln = nn::LayerNormOptions({16}).eps(1e-5);
  expect_same_layer<tb::LayerNorm, nn::LayerNorm>(
      "LayerNorm", [&] { return tb::LayerNorm(ln); }, [&] { return nn::LayerNorm(ln); }, seq);
  expect_same_layer<tb::Embedding, nn::Embedding>(
      "Embedding", [] { return tb::Embedding(10, 4); }, [] { return nn::Embedding(10, 4); },
      at::tensor({3, 0, 9}, at::kLong));
}

TEST(EmptyWeights, InsideAScopeLayersAreUninitialisedAtItsDtype) {
  at::manual_seed(5);
  const at::Tensor expected = at::rand({4});
  at::manual_seed(5);
  {
    tb::EmptyWeights half(at::kHalf);
    tb::Conv2d conv(nn::Conv2dOptions(8, 6, 3));
    EXPECT_EQ(conv->weight.scalar_type(), at::kHalf);
    EXPECT_EQ(conv->bias.scalar_type(), at::kHalf);
    {
      tb::EmptyWeights bf16(at::kBFloat16);  // the innermost scope wins
      EXPECT_EQ(tb::Linear(4, 4)->weight.scalar_type(), at::kBFloat16);
    }
    EXPECT_EQ(tb::empty_weights_dtype(), at::kHalf);
    EXPECT_EQ(tb::Embedding(10, 4)->weight.scalar_type(), at::kHalf);
    EXPECT_EQ(tb::GroupNorm(nn::GroupNormOptions(2, 4))->weight.scalar_type(), at::kHalf);
    EXPECT_EQ(tb::LayerNorm(nn::LayerNormOptions({4}))->bias.scalar_type(), at::kHalf);
  }
  EXPECT_FALSE(tb::empty_weights_dtype().has_value());
  EXPECT_TRUE(at::equal(at::rand({4}), expected)) << "building empty layers drew random numbers";
  EXPECT_EQ(tb::Linear(4, 4)->weight.scalar_type(), at::kFloat);
}

TEST(EmptyWeights, LoadingAModelDrawsNoRandomNumbers) {
  const std::filesystem::path demo = std::filesystem::path(FTDR_SOURCE_DIR) / "models" / "ftdr-shapes";
  if (!std::filesystem::exists(demo / "model_index.json")) GTEST_SKIP() << "demo model not found at " << demo;
  at::manual_seed(9);
  const at::Tensor expected = at::rand({4});
  at::manual_seed(9);
  tb::LoadedModel m = tb::load_model(demo, at::kHalf);
  EXPECT_TRUE(at::equal(at::rand({4}), expected)) << "load_model ran a random init";
  for (const auto& name : m.component_names())
    for (const auto& p : m.component(name).parameters()) ASSERT_EQ(p.scalar_type(), at::kHalf) << name;
}

}  // namespace
}  // namespace ftdr::test
