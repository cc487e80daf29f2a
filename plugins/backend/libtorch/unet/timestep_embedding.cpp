// unet/timestep_embedding.cpp  (Ref: diffusers models/embeddings.py TimestepEmbedding, act_fn silu)
#include "unet/timestep_embedding.hpp"
#include "nn/linear.hpp"

namespace ftdr::torchbe {

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim) {
  linear_1 = register_module("linear_1", Linear(in_channels, time_embed_dim));
  linear_2 = register_module("linear_2", Linear(time_embed_dim, time_embed_dim));
}

at::Tensor TimestepEmbeddingImpl::forward(const at::Tensor& x) {
  return linear_2(torch::nn::functional::silu(linear_1(x)));
}

}  // namespace ftdr::torchbe
