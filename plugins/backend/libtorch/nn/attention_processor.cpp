// nn/attention_processor.cpp  (Ref: diffusers models/attention_processor.py Attention + AttnProcessor)
#include "nn/attention_processor.hpp"
#include "nn/stop_point.hpp"

#include "nn/cpu_linear.hpp"
#include "nn/group_norm.hpp"
#include "nn/linear.hpp"

namespace ftdr::torchbe {

AttentionImpl::AttentionImpl(const AttentionOptions& o, AttentionSettingsPtr settings)
    : options_(o), settings_(std::move(settings)) {
  const int64_t inner = o.heads * o.dim_head;
  const int64_t kv_dim = o.cross_attention_dim > 0 ? o.cross_attention_dim : o.query_dim;
  if (o.norm_num_groups > 0)
    group_norm = register_module(
        "group_norm", GroupNorm(torch::nn::GroupNormOptions(o.norm_num_groups, o.query_dim).eps(o.eps)));
  to_q = register_module("to_q", Linear(torch::nn::LinearOptions(o.query_dim, inner).bias(o.bias)));
  to_k = register_module("to_k", Linear(torch::nn::LinearOptions(kv_dim, inner).bias(o.bias)));
  to_v = register_module("to_v", Linear(torch::nn::LinearOptions(kv_dim, inner).bias(o.bias)));
  out_proj_ = Linear(torch::nn::LinearOptions(inner, o.query_dim).bias(o.out_bias));
  to_out = register_module("to_out", torch::nn::ModuleList(out_proj_, torch::nn::Dropout(0.0)));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  stop_point();
  const bool spatial = x.dim() == 4;
  const int64_t b = x.size(0);
  // [B, C, H, W] -> [B, H*W, C]
  at::Tensor h = spatial ? x.reshape({b, x.size(1), -1}).transpose(1, 2) : x;
  if (group_norm) h = group_norm(h.transpose(1, 2)).transpose(1, 2);
  const at::Tensor& kv = context.defined() ? context : h;
  auto project = [](const Linear& l, const at::Tensor& t) { return cpu_linear(t, l->weight, l->bias); };
  at::Tensor out = attention(project(to_q, h), project(to_k, kv), project(to_v, kv), options_.heads,
                             *settings_, options_.upcast);
  out = project(out_proj_, out);
  // Contiguous again (a copy of [B, C, H, W], small beside the attention): the transposed view made
  // the residual sum channels-last, and the next GroupNorm and convolution then took other kernels.
  if (spatial) out = out.transpose(1, 2).reshape(x.sizes()).contiguous();
  if (options_.residual_connection) out = out + x;
  return options_.rescale_output_factor == 1.0 ? out : out / options_.rescale_output_factor;
}

}  // namespace ftdr::torchbe
