// nn/embedding.cpp: see embedding.hpp.
#include "nn/embedding.hpp"

#include "nn/empty_weights.hpp"

namespace ftdr::torchbe {

EmbeddingImpl::EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim) {
  weight = register_parameter(
      "weight", new_parameter({num_embeddings, embedding_dim}, [](at::Tensor& w) { w.normal_(); }));
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

}  // namespace ftdr::torchbe
