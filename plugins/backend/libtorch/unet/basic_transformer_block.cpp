// unet/basic_transformer_block.cpp  (Ref: diffusers models/attention.py BasicTransformerBlock)
#include "unet/basic_transformer_block.hpp"
#include "nn/layer_norm.hpp"
#include "nn/stop_point.hpp"

namespace ftdr::torchbe {

BasicTransformerBlockImpl::BasicTransformerBlockImpl(const BasicTransformerBlockOptions& o,
                                                     AttentionSettingsPtr settings) {
  auto layer_norm = [&] { return LayerNorm(torch::nn::LayerNormOptions({o.dim}).eps(o.norm_eps)); };
  AttentionOptions self_attn;
  self_attn.query_dim = o.dim;
  self_attn.heads = o.heads;
  self_attn.dim_head = o.dim_head;
  self_attn.upcast = o.upcast_attention;
  AttentionOptions cross_attn = self_attn;
  cross_attn.cross_attention_dim = o.cross_attention_dim;

  norm1 = register_module("norm1", layer_norm());
  attn1 = register_module("attn1", Attention(self_attn, settings));
  norm2 = register_module("norm2", layer_norm());
  attn2 = register_module("attn2", Attention(cross_attn, settings));
  norm3 = register_module("norm3", layer_norm());
  ff = register_module("ff", FeedForward(o.dim));
}

at::Tensor BasicTransformerBlockImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  at::Tensor h = attn1(norm1(x)) + x;
  h = attn2(norm2(h), context) + h;
  stop_point();
  return ff(norm3(h)) + h;
}

}  // namespace ftdr::torchbe
