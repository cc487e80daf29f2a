// unet/feed_forward.hpp: diffusers' FeedForward with GEGLU (the transformer blocks' MLP).
//
// net.0 = GEGLU (proj: Linear(dim, 2*inner); hidden * gelu(gate)), net.1 = Dropout,
// net.2 = Linear(inner, dim). inner = 4 * dim.
#pragma once
#include <torch/nn.h>
#include "nn/linear.hpp"

namespace ftdr::torchbe {

class GEGLUImpl : public torch::nn::Module {
 public:
  GEGLUImpl(int64_t dim_in, int64_t dim_out);
  at::Tensor forward(const at::Tensor& x);

  Linear proj{nullptr};
};
TORCH_MODULE(GEGLU);

class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t dim, int64_t mult = 4);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::ModuleList net{nullptr};

 private:
  GEGLU geglu_{nullptr};
  Linear out_{nullptr};
};
TORCH_MODULE(FeedForward);

}  // namespace ftdr::torchbe
