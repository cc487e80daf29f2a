// nn/embedding.hpp: torch::nn::Embedding's layer (weight [num_embeddings, dim], init N(0, 1); no
// padding index, max_norm or sparse gradients), built empty inside an EmptyWeights scope
// (nn/empty_weights.hpp).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace ftdr::torchbe {

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim);
  at::Tensor forward(const at::Tensor& ids);

  at::Tensor weight;
};
TORCH_MODULE(Embedding);

}  // namespace ftdr::torchbe
