// nn/group_norm.cpp: see group_norm.hpp.
#include "nn/group_norm.hpp"

#include <torch/nn/functional/normalization.h>

#include "nn/empty_weights.hpp"

namespace ftdr::torchbe {

GroupNormImpl::GroupNormImpl(const torch::nn::GroupNormOptions& o) : options(o) {
  if (!o.affine()) return;
  weight = register_parameter("weight", new_parameter({o.num_channels()}, [](at::Tensor& w) { w.fill_(1); }));
  bias = register_parameter("bias", new_parameter({o.num_channels()}, [](at::Tensor& b) { b.zero_(); }));
}

at::Tensor GroupNormImpl::forward(const at::Tensor& x) {
  namespace F = torch::nn::functional;
  return F::group_norm(
      x, F::GroupNormFuncOptions(options.num_groups()).weight(weight).bias(bias).eps(options.eps()));
}

}  // namespace ftdr::torchbe
