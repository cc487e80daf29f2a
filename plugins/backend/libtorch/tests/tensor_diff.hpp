// plugins/backend/libtorch/tests/tensor_diff.hpp: the distances the parity tests report, in double.
#pragma once
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace ftdr::test {

inline double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

// max |a - b|; a shape mismatch fails the test and reads as infinitely far.
inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return INFINITY;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace ftdr::test
