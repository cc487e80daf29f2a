// nn/attention_processor.hpp: diffusers' Attention module (attention_processor.py) with AttnProcessor.
//
// to_q/to_k/to_v (+ to_out.0 Linear, to_out.1 Dropout) as diffusers names them. Two uses:
//   - UNet transformer blocks: tokens [B, N, C]; cross attention when `context` is given.
//   - VAE mid block (diffusers >= 0.14 layout): group_norm, spatial input [B, C, H, W], residual
//     connection, output divided by rescale_output_factor.
#pragma once
#include <torch/nn.h>

#include "nn/attention.hpp"
#include "nn/group_norm.hpp"
#include "nn/linear.hpp"

namespace ftdr::torchbe {

struct AttentionOptions {
  int64_t query_dim = 0;
  int64_t cross_attention_dim = 0;  // 0 = self attention (keys/values from query_dim)
  int64_t heads = 8;
  int64_t dim_head = 64;
  bool bias = false;  // q/k/v bias
  bool out_bias = true;
  bool upcast = false;          // upcast_attention / upcast_softmax
  int64_t norm_num_groups = 0;  // > 0: group_norm before q/k/v (VAE)
  double eps = 1e-5;            // group_norm eps
  bool residual_connection = false;
  double rescale_output_factor = 1.0;
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const AttentionOptions& options, AttentionSettingsPtr settings);
  // x: [B, N, C] or [B, C, H, W] (then reshaped to tokens and back); context: [B, M, cross] or {}.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context = {});

  GroupNorm group_norm{nullptr};
  Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
  torch::nn::ModuleList to_out{nullptr};

 private:
  AttentionOptions options_;
  AttentionSettingsPtr settings_;
  Linear out_proj_{nullptr};  // = to_out[0], typed
};
TORCH_MODULE(Attention);

}  // namespace ftdr::torchbe
