// nn/empty_weights.cpp: see empty_weights.hpp.
#include "nn/empty_weights.hpp"

#include <c10/core/GradMode.h>

namespace ftdr::torchbe {
namespace {
thread_local std::optional<at::ScalarType> scope_dtype;
}  // namespace

EmptyWeights::EmptyWeights(at::ScalarType dtype) : outer_(scope_dtype) { scope_dtype = dtype; }

EmptyWeights::~EmptyWeights() { scope_dtype = outer_; }

std::optional<at::ScalarType> empty_weights_dtype() { return scope_dtype; }

at::Tensor new_parameter(at::IntArrayRef shape, const std::function<void(at::Tensor&)>& init) {
  if (scope_dtype) return at::empty(shape, at::TensorOptions().dtype(*scope_dtype));
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
  c10::NoGradGuard no_grad;
  init(t);
  return t;
}

}  // namespace ftdr::torchbe
