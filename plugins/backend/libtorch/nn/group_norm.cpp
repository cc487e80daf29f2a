// nn/group_norm.cpp: see group_norm.hpp.
#include "nn/group_norm.hpp"

#include <ATen/core/grad_mode.h>
#include <torch/nn/functional/normalization.h>

#include "nn/each_image.hpp"
#include "nn/empty_weights.hpp"
#include "nn/image_group_norm.hpp"

namespace ftdr::torchbe {
namespace {

// nn/image_group_norm.hpp's kernel: float32 images on the CPU at inference (no autograd graph).
bool own_kernel(const at::Tensor& x) { return image_group_norm_supports(x) && !at::GradMode::is_enabled(); }

}  // namespace

GroupNormImpl::GroupNormImpl(const torch::nn::GroupNormOptions& o) : options(o) {
  if (!o.affine()) return;
  weight = register_parameter("weight", new_parameter({o.num_channels()}, [](at::Tensor& w) { w.fill_(1); }));
  bias = register_parameter("bias", new_parameter({o.num_channels()}, [](at::Tensor& b) { b.zero_(); }));
}

at::Tensor GroupNormImpl::forward(const at::Tensor& x) {
  namespace F = torch::nn::functional;
  const auto o = F::GroupNormFuncOptions(options.num_groups()).weight(weight).bias(bias).eps(options.eps());
  // libtorch's CPU kernel for a channels-last input sums each group in per-thread partial sums over
  // the whole batch's rows, so an image's statistics depend on the batch (Debian's libtorch 1.13, 2
  // threads: every image of a batch of 4 differs from the image alone). So a channels-last batch
  // (the VAE decoder's layout on the CPU) is normalized one image at a time, and any other
  // non-contiguous input (attention's x^T reshaped) in the contiguous layout, whose kernel computes
  // each (image, group) whole.
  if (!x.device().is_cpu() || x.dim() <= 2 || x.is_contiguous()) return F::group_norm(x, o);
  if (x.dim() != 4 || !x.is_contiguous(at::MemoryFormat::ChannelsLast))
    return F::group_norm(x.contiguous(), o);
  if (own_kernel(x)) {
    at::Tensor out = at::empty_like(x);  // keeps the channels-last layout
    image_group_norm(x, out, options.num_groups(), weight, bias, options.eps());
    return out;
  }
  return each_image(x, [&](const at::Tensor& image) { return F::group_norm(image, o); });  // training, bf16
}

at::Tensor GroupNormImpl::forward_owned(at::Tensor x) {
  if (!own_kernel(x)) return forward(x);
  // One reference to the tensor (ours) and one to its storage (no view of it elsewhere): nothing
  // can read the values this overwrites. Otherwise the same kernel into a new tensor, so the
  // result does not depend on who else holds x.
  const bool in_place = x.use_count() == 1 && x.storage().use_count() == 1;
  const at::Tensor out = in_place ? x : at::empty_like(x);
  image_group_norm(x, out, options.num_groups(), weight, bias, options.eps());
  return out;
}

}  // namespace ftdr::torchbe
