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
  // libtorch's CPU kernel for a channels-last input sums each group in per-thread partial sums over
  // the whole batch's rows, so an image's statistics depend on the batch (Debian's libtorch 1.13, 2
  // threads: every image of a batch of 4 differs from the image alone). The contiguous kernel
  // computes each (image, group) whole. Attention's output (x^T reshaped) is such a layout.
  const bool relayout = x.device().is_cpu() && x.dim() > 2 && !x.is_contiguous();
  return F::group_norm(
      relayout ? x.contiguous() : x,
      F::GroupNormFuncOptions(options.num_groups()).weight(weight).bias(bias).eps(options.eps()));
}

}  // namespace ftdr::torchbe
