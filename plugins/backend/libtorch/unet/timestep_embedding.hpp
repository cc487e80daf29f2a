// unet/timestep_embedding.hpp: diffusers' TimestepEmbedding: linear_1 -> SiLU -> linear_2.
#pragma once
#include <torch/nn.h>
#include "nn/linear.hpp"

namespace ftdr::torchbe {

class TimestepEmbeddingImpl : public torch::nn::Module {
 public:
  TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim);
  at::Tensor forward(const at::Tensor& x);

  Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(TimestepEmbedding);

}  // namespace ftdr::torchbe
