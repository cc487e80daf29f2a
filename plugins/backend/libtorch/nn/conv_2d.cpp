// nn/conv_2d.cpp: see conv_2d.hpp.
#include "nn/conv_2d.hpp"

#include <torch/enum.h>
#include <torch/nn/functional/conv.h>
#include <torch/nn/init.h>

#include <cmath>

#include "nn/empty_weights.hpp"

namespace ftdr::torchbe {

Conv2dImpl::Conv2dImpl(const torch::nn::Conv2dOptions& o) : options(o) {
  TORCH_CHECK(torch::enumtype::get_enum_name(o.padding_mode()) == "kZeros", "Conv2d: zero padding only");
  const auto& k = o.kernel_size();
  weight = register_parameter(
      "weight", new_parameter({o.out_channels(), o.in_channels() / o.groups(), k->at(0), k->at(1)},
                              [](at::Tensor& w) { torch::nn::init::kaiming_uniform_(w, std::sqrt(5.0)); }));
  if (o.bias()) {
    const double fan_in = static_cast<double>(o.in_channels() / o.groups() * k->at(0) * k->at(1));
    const double bound = 1.0 / std::sqrt(fan_in);
    bias = register_parameter(
        "bias", new_parameter({o.out_channels()}, [bound](at::Tensor& b) { b.uniform_(-bound, bound); }));
  }
}

at::Tensor Conv2dImpl::forward(const at::Tensor& x) {
  namespace F = torch::nn::functional;
  return F::conv2d(x, weight,
                   F::Conv2dFuncOptions()
                       .bias(bias)
                       .stride(options.stride())
                       .padding(options.padding())
                       .dilation(options.dilation())
                       .groups(options.groups()));
}

}  // namespace ftdr::torchbe
