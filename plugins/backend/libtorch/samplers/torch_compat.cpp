// Built with -ffp-contract=off (CMakeLists.txt): the unfused sums below must stay unfused even when
// the compiler targets a CPU with FMA.
#include "samplers/torch_compat.hpp"

#include <cmath>
#include <cstdint>

namespace ftdr::torchbe {
namespace {

constexpr int64_t kVectorWidth = 8;  // floats in one AVX2 register

// The kernel's scalar formula for index i: fma(step, i, start) below halfway, end - step * (n - 1 - i)
// (fused) from there on.
float linspace_value(float start, float end, float step, int64_t steps, int64_t i) {
  if (i < steps / 2) return std::fma(step, static_cast<float>(i), start);
  return std::fma(-step, static_cast<float>(steps - i - 1), end);
}

}  // namespace

std::vector<float> torch_linspace(double start, double end, int steps) {
  if (steps <= 0) return {};
  const auto first = static_cast<float>(start), last = static_cast<float>(end);
  std::vector<float> out(static_cast<size_t>(steps));
  if (steps == 1) {
    out[0] = first;
    return out;
  }
  const int64_t n = steps;
  const float step = (last - first) / static_cast<float>(n - 1);
  // The vectorized loop stores two vectors per pass while 16 values remain; each vector is
  // Vectorized<float>::arange(base, step): base, base + 1 * step, ..., base + 7 * step.
  const int64_t vectorized = n / (2 * kVectorWidth) * (2 * kVectorWidth);
  for (int64_t i = 0; i < vectorized; i += kVectorWidth) {
    const float base = linspace_value(first, last, step, n, i);
    out[static_cast<size_t>(i)] = base;
    for (int64_t k = 1; k < kVectorWidth; ++k) {
      const float offset = static_cast<float>(k) * step;
      out[static_cast<size_t>(i + k)] = base + offset;
    }
  }
  for (int64_t i = vectorized; i < n; ++i)
    out[static_cast<size_t>(i)] = linspace_value(first, last, step, n, i);
  return out;
}

std::vector<float> torch_cumprod(const std::vector<float>& x) {
  std::vector<float> out(x.size());
  double product = 1;
  for (size_t i = 0; i < x.size(); ++i) {
    product *= static_cast<double>(x[i]);
    out[i] = static_cast<float>(product);
  }
  return out;
}

}  // namespace ftdr::torchbe
