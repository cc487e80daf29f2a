// nn/conv_2d.hpp: torch::nn::Conv2d's layer (weight [out, in / groups, kh, kw], bias [out];
// libtorch's init; zero padding only), built empty inside an EmptyWeights scope
// (nn/empty_weights.hpp). On the CPU call it through cpu_conv2d (nn/cpu_conv.hpp).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/options/conv.h>
#include <torch/nn/pimpl.h>

namespace ftdr::torchbe {

class Conv2dImpl : public torch::nn::Module {
 public:
  explicit Conv2dImpl(const torch::nn::Conv2dOptions& options);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2dOptions options;
  at::Tensor weight;
  at::Tensor bias;  // undefined without a bias
};
TORCH_MODULE(Conv2d);

}  // namespace ftdr::torchbe
