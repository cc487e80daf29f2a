// nn/linear.hpp: torch::nn::Linear's layer (weight [out, in], bias [out]; libtorch's init), built
// empty inside an EmptyWeights scope (nn/empty_weights.hpp).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/options/linear.h>
#include <torch/nn/pimpl.h>

namespace ftdr::torchbe {

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features);
  explicit LinearImpl(const torch::nn::LinearOptions& options);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::LinearOptions options;
  at::Tensor weight;
  at::Tensor bias;  // undefined without a bias
};
TORCH_MODULE(Linear);

}  // namespace ftdr::torchbe
