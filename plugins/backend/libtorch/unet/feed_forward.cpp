// unet/feed_forward.cpp  (Ref: diffusers models/attention.py FeedForward, activations.py GEGLU)
#include "unet/feed_forward.hpp"

#include "nn/cpu_geglu.hpp"
#include "nn/cpu_linear.hpp"
#include "nn/linear.hpp"

namespace ftdr::torchbe {

GEGLUImpl::GEGLUImpl(int64_t dim_in, int64_t dim_out) {
  proj = register_module("proj", Linear(dim_in, dim_out * 2));
}

at::Tensor GEGLUImpl::forward(const at::Tensor& x) {
  return cpu_geglu(cpu_linear(x, proj->weight, proj->bias));  // hidden * exact (erf) GELU(gate), as diffusers
}

FeedForwardImpl::FeedForwardImpl(int64_t dim, int64_t mult) {
  const int64_t inner = dim * mult;
  geglu_ = GEGLU(dim, inner);
  out_ = Linear(inner, dim);
  net = register_module("net", torch::nn::ModuleList(geglu_, torch::nn::Dropout(0.0), out_));
}

at::Tensor FeedForwardImpl::forward(const at::Tensor& x) {
  return cpu_linear(geglu_(x), out_->weight, out_->bias);
}

}  // namespace ftdr::torchbe
