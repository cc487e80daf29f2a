// unet/timestep_embedding.cpp  (Ref: diffusers models/embeddings.py TimestepEmbedding, act_fn silu)
#include "unet/timestep_embedding.hpp"
#include "nn/linear.hpp"

#include "nn/cpu_linear.hpp"
#include "nn/per_sample_activation.hpp"

namespace ftdr::torchbe {

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim) {
  linear_1 = register_module("linear_1", Linear(in_channels, time_embed_dim));
  linear_2 = register_module("linear_2", Linear(time_embed_dim, time_embed_dim));
}

at::Tensor TimestepEmbeddingImpl::forward(const at::Tensor& x) {
  // x [B, in]: through cpu_linear so that each image's embedding does not depend on the batch.
  const at::Tensor h = silu_per_sample_(cpu_linear(x, linear_1->weight, linear_1->bias));
  return cpu_linear(h, linear_2->weight, linear_2->bias);
}

}  // namespace ftdr::torchbe
