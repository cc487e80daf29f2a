// nn/group_norm.hpp: torch::nn::GroupNorm's layer (affine weight/bias [channels], init 1 and 0),
// built empty inside an EmptyWeights scope (nn/empty_weights.hpp). On the CPU an image's result does
// not depend on its batch: a channels-last input is normalized image by image
// (nn/image_group_norm.hpp at inference), any other non-contiguous input in the contiguous layout.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/options/normalization.h>
#include <torch/nn/pimpl.h>

namespace ftdr::torchbe {

class GroupNormImpl : public torch::nn::Module {
 public:
  explicit GroupNormImpl(const torch::nn::GroupNormOptions& options);
  at::Tensor forward(const at::Tensor& x);
  // forward for a caller that may hand x over: float32 images on the CPU at inference go through
  // nn/image_group_norm.hpp, into x itself when nothing else holds it (the caller moved its last
  // reference in, and no view shares its storage), else into a new tensor with the same result.
  // Anything else: forward(x).
  //   h = norm->forward_owned(std::move(h));
  at::Tensor forward_owned(at::Tensor x);

  torch::nn::GroupNormOptions options;
  at::Tensor weight;  // undefined unless affine
  at::Tensor bias;
};
TORCH_MODULE(GroupNorm);

}  // namespace ftdr::torchbe
