// nn/layer_norm.hpp: torch::nn::LayerNorm's layer (elementwise weight/bias of the normalized
// shape, init 1 and 0), built empty inside an EmptyWeights scope (nn/empty_weights.hpp).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/options/normalization.h>
#include <torch/nn/pimpl.h>

namespace ftdr::torchbe {

class LayerNormImpl : public torch::nn::Module {
 public:
  explicit LayerNormImpl(const torch::nn::LayerNormOptions& options);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::LayerNormOptions options;
  at::Tensor weight;  // undefined unless elementwise_affine
  at::Tensor bias;
};
TORCH_MODULE(LayerNorm);

}  // namespace ftdr::torchbe
