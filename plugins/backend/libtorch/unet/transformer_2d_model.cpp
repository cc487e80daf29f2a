// unet/transformer_2d_model.cpp  (Ref: diffusers models/transformers/transformer_2d.py, continuous input)
#include "unet/transformer_2d_model.hpp"

#include "nn/conv_2d.hpp"
#include "nn/cpu_conv.hpp"
#include "nn/cpu_linear.hpp"
#include "nn/group_norm.hpp"
#include "nn/linear.hpp"

namespace ftdr::torchbe {

namespace {
constexpr double kNormEps = 1e-6;  // Transformer2DModel's GroupNorm eps is fixed in diffusers
}

Transformer2DModelImpl::Transformer2DModelImpl(const Transformer2DModelOptions& o,
                                               AttentionSettingsPtr settings)
    : options_(o) {
  const int64_t inner = o.heads * o.dim_head;
  norm = register_module(
      "norm", GroupNorm(torch::nn::GroupNormOptions(o.norm_num_groups, o.in_channels).eps(kNormEps)));
  if (o.use_linear_projection) {
    linear_in_ = Linear(o.in_channels, inner);
    linear_out_ = Linear(inner, o.in_channels);
    proj_in = register_module("proj_in", linear_in_.ptr());
  } else {
    conv_in_ = Conv2d(torch::nn::Conv2dOptions(o.in_channels, inner, 1));
    conv_out_ = Conv2d(torch::nn::Conv2dOptions(inner, o.in_channels, 1));
    proj_in = register_module("proj_in", conv_in_.ptr());
  }
  transformer_blocks = register_module("transformer_blocks", torch::nn::ModuleList());
  BasicTransformerBlockOptions block;
  block.dim = inner;
  block.heads = o.heads;
  block.dim_head = o.dim_head;
  block.cross_attention_dim = o.cross_attention_dim;
  block.upcast_attention = o.upcast_attention;
  for (int64_t i = 0; i < o.num_layers; ++i) {
    blocks_.emplace_back(block, settings);
    transformer_blocks->push_back(blocks_.back());
  }
  // Registered after the blocks so named_parameters() lists them in diffusers' order.
  if (o.use_linear_projection)
    proj_out = register_module("proj_out", linear_out_.ptr());
  else
    proj_out = register_module("proj_out", conv_out_.ptr());
}

at::Tensor Transformer2DModelImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  at::Tensor t = norm(x);
  int64_t channels = 0;
  if (options_.use_linear_projection) {
    t = t.permute({0, 2, 3, 1}).reshape({b, h * w, x.size(1)});
    t = cpu_linear(t, linear_in_->weight, linear_in_->bias);
    channels = t.size(2);
  } else {
    t = cpu_conv2d(conv_in_, t);
    channels = t.size(1);
    t = t.permute({0, 2, 3, 1}).reshape({b, h * w, channels});
  }
  for (auto& block : blocks_) t = block(t, context);
  if (options_.use_linear_projection) {
    t = cpu_linear(t, linear_out_->weight, linear_out_->bias);
    t = t.reshape({b, h, w, x.size(1)}).permute({0, 3, 1, 2}).contiguous();
  } else {
    t = t.reshape({b, h, w, channels}).permute({0, 3, 1, 2}).contiguous();
    t = cpu_conv2d(conv_out_, t);
  }
  return t + x;
}

}  // namespace ftdr::torchbe
