// unet/basic_transformer_block.hpp: diffusers' BasicTransformerBlock (norm_type "layer_norm", GEGLU).
//
// x = attn1(norm1(x)) + x; x = attn2(norm2(x), context) + x; x = ff(norm3(x)) + x.
#pragma once
#include <torch/nn.h>

#include "nn/attention_processor.hpp"
#include "nn/layer_norm.hpp"
#include "unet/feed_forward.hpp"

namespace ftdr::torchbe {

struct BasicTransformerBlockOptions {
  int64_t dim = 0;
  int64_t heads = 8;
  int64_t dim_head = 64;
  int64_t cross_attention_dim = 768;
  bool upcast_attention = false;
  double norm_eps = 1e-5;
};

class BasicTransformerBlockImpl : public torch::nn::Module {
 public:
  BasicTransformerBlockImpl(const BasicTransformerBlockOptions& options, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context);

  LayerNorm norm1{nullptr};
  Attention attn1{nullptr};
  LayerNorm norm2{nullptr};
  Attention attn2{nullptr};
  LayerNorm norm3{nullptr};
  FeedForward ff{nullptr};
};
TORCH_MODULE(BasicTransformerBlock);

}  // namespace ftdr::torchbe
