// nn/layer_norm.cpp: see layer_norm.hpp.
#include "nn/layer_norm.hpp"

#include <torch/nn/functional/normalization.h>

#include "nn/empty_weights.hpp"

namespace ftdr::torchbe {

LayerNormImpl::LayerNormImpl(const torch::nn::LayerNormOptions& o) : options(o) {
  if (!o.elementwise_affine()) return;
  weight =
      register_parameter("weight", new_parameter(o.normalized_shape(), [](at::Tensor& w) { w.fill_(1); }));
  bias = register_parameter("bias", new_parameter(o.normalized_shape(), [](at::Tensor& b) { b.zero_(); }));
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) {
  namespace F = torch::nn::functional;
  return F::layer_norm(
      x, F::LayerNormFuncOptions(options.normalized_shape()).weight(weight).bias(bias).eps(options.eps()));
}

}  // namespace ftdr::torchbe
