// nn/linear.cpp: see linear.hpp.
#include "nn/linear.hpp"

#include <torch/nn/init.h>

#include <cmath>

#include "nn/empty_weights.hpp"

namespace ftdr::torchbe {

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features)
    : LinearImpl(torch::nn::LinearOptions(in_features, out_features)) {}

LinearImpl::LinearImpl(const torch::nn::LinearOptions& o) : options(o) {
  weight = register_parameter("weight", new_parameter({o.out_features(), o.in_features()}, [](at::Tensor& w) {
                                torch::nn::init::kaiming_uniform_(w, std::sqrt(5.0));
                              }));
  if (o.bias()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(o.in_features()));
    bias = register_parameter(
        "bias", new_parameter({o.out_features()}, [bound](at::Tensor& b) { b.uniform_(-bound, bound); }));
  }
}

at::Tensor LinearImpl::forward(const at::Tensor& x) { return at::linear(x, weight, bias); }

}  // namespace ftdr::torchbe
