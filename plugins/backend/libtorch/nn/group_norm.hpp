// nn/group_norm.hpp: torch::nn::GroupNorm's layer (affine weight/bias [channels], init 1 and 0),
// built empty inside an EmptyWeights scope (nn/empty_weights.hpp). On the CPU an image's result does
// not depend on its batch: a channels-last batch is normalized image by image, any other
// non-contiguous input in the contiguous layout.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/options/normalization.h>
#include <torch/nn/pimpl.h>

namespace ftdr::torchbe {

class GroupNormImpl : public torch::nn::Module {
 public:
  explicit GroupNormImpl(const torch::nn::GroupNormOptions& options);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::GroupNormOptions options;
  at::Tensor weight;  // undefined unless affine
  at::Tensor bias;
};
TORCH_MODULE(GroupNorm);

}  // namespace ftdr::torchbe
