// nn/resnet_block_2d.cpp  (Ref: diffusers models/resnet.py ResnetBlock2D)
#include "nn/resnet_block_2d.hpp"
#include "nn/stop_point.hpp"

#include "nn/conv_2d.hpp"
#include "nn/cpu_conv.hpp"
#include "nn/cpu_linear.hpp"
#include "nn/group_norm.hpp"
#include "nn/linear.hpp"
#include "nn/per_sample_activation.hpp"

namespace ftdr::torchbe {

namespace F = torch::nn::functional;

ResnetBlock2DImpl::ResnetBlock2DImpl(const ResnetBlock2DOptions& o) : options_(o) {
  const int64_t out = o.out_channels > 0 ? o.out_channels : o.in_channels;
  options_.out_channels = out;
  norm1 =
      register_module("norm1", GroupNorm(torch::nn::GroupNormOptions(o.groups, o.in_channels).eps(o.eps)));
  conv1 = register_module("conv1", Conv2d(torch::nn::Conv2dOptions(o.in_channels, out, 3).padding(1)));
  if (o.temb_channels > 0) time_emb_proj = register_module("time_emb_proj", Linear(o.temb_channels, out));
  norm2 = register_module("norm2", GroupNorm(torch::nn::GroupNormOptions(o.groups, out).eps(o.eps)));
  conv2 = register_module("conv2", Conv2d(torch::nn::Conv2dOptions(out, out, 3).padding(1)));
  if (o.in_channels != out)
    conv_shortcut = register_module("conv_shortcut", Conv2d(torch::nn::Conv2dOptions(o.in_channels, out, 1)));
}

at::Tensor ResnetBlock2DImpl::forward(at::Tensor x, const at::Tensor& temb) {
  stop_point();  // the host may stop here and between the two convolutions
  // The shortcut first: with a 1x1 conv_shortcut, x is then needed by norm1 alone, which may
  // normalize it in place (the VAE decoder's last level: 256 channels at 512x512, 268 MiB, at its
  // memory peak). Without one, `shortcut` holds x and norm1 leaves it be.
  const at::Tensor shortcut = conv_shortcut ? cpu_conv2d(conv_shortcut, x) : x;
  at::Tensor h = cpu_conv2d(conv1, silu_per_sample_(norm1->forward_owned(std::move(x))));
  if (time_emb_proj && temb.defined()) {
    const at::Tensor t = cpu_linear(silu_per_sample(temb), time_emb_proj->weight, time_emb_proj->bias);
    h = h + t.unsqueeze(-1).unsqueeze(-1);
  }
  stop_point();
  h = cpu_conv2d(conv2, silu_per_sample_(norm2->forward_owned(std::move(h))));  // dropout: identity
  at::Tensor out = shortcut + h;
  return options_.output_scale_factor == 1.0 ? out : out / options_.output_scale_factor;
}

}  // namespace ftdr::torchbe
