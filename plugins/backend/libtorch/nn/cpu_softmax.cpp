// nn/cpu_softmax.cpp: see cpu_softmax.hpp.
#include "nn/cpu_softmax.hpp"

#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "nn/avx2_math.hpp"

namespace ftdr::torchbe {
namespace {

#if FTDR_HAVE_AVX2_MATH

using namespace avx2;  // NOLINT: this file's kernels are written in its vocabulary

// The row's largest element; NaN when it holds a NaN (max_ps alone would drop it).
FTDR_AVX2 float row_max(const float* x, std::int64_t n) {
  __m256 best = _mm256_set1_ps(-std::numeric_limits<float>::infinity()), nan = _mm256_setzero_ps();
  auto take = [&](__m256 v) FTDR_AVX2 {
    best = _mm256_max_ps(best, v);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  };
  const std::int64_t body = n - n % 8;
  for (std::int64_t i = 0; i < body; i += 8) take(_mm256_loadu_ps(x + i));
  if (body < n) take(load_tail(x + body, first_lanes(n - body)));
  return _mm256_movemask_ps(nan) ? std::numeric_limits<float>::quiet_NaN() : horizontal_max(best);
}

FTDR_AVX2 void softmax_row(const float* x, float* y, std::int64_t n) {
  const __m256 max = _mm256_set1_ps(row_max(x, n));
  const std::int64_t body = n - n % 8;
  const __m256i tail = first_lanes(n - body);
  __m256 sum = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < body; i += 8) {
    const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(x + i), max));
    _mm256_storeu_ps(y + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (body < n) {
    const __m256 e = exp_nonpositive(_mm256_sub_ps(load_tail(x + body, tail), max));
    _mm256_maskstore_ps(y + body, tail, e);
    sum = _mm256_add_ps(sum, e);
  }
  const __m256 inverse = _mm256_set1_ps(1.0f / horizontal_sum(sum));  // as libtorch: times 1 / sum
  for (std::int64_t i = 0; i < body; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inverse));
  if (body < n)
    _mm256_maskstore_ps(y + body, tail, _mm256_mul_ps(_mm256_maskload_ps(y + body, tail), inverse));
}

#else

void softmax_row(const float*, float*, std::int64_t) {}

#endif

}  // namespace

bool cpu_softmax_fast(const at::Tensor& x) {
  return avx2::cpu_has_avx2_fma() && x.device().is_cpu() && x.scalar_type() == at::kFloat && x.dim() >= 1 &&
         x.is_contiguous() && x.size(-1) > 0 && !(at::GradMode::is_enabled() && x.requires_grad());
}

void cpu_softmax_out(const at::Tensor& out, const at::Tensor& x) {
  TORCH_CHECK(out.sizes() == x.sizes() && out.scalar_type() == x.scalar_type() && out.is_contiguous(),
              "cpu_softmax_out: out must be contiguous, of x's shape and dtype");
  if (!cpu_softmax_fast(x)) {
    at::Tensor target = out;
    at::_softmax_out(target, x, -1, false);
    return;
  }
  const std::int64_t cols = x.size(-1), rows = x.numel() / cols;
  const float* in = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  // At least libtorch's own grain of elements per task: a small matrix stays on one thread.
  const std::int64_t grain = std::max<std::int64_t>(1, at::internal::GRAIN_SIZE / cols);
  at::parallel_for(0, rows, grain, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t r = first; r < last; ++r) softmax_row(in + r * cols, dst + r * cols, cols);
  });
}

at::Tensor cpu_softmax(const at::Tensor& x) {
  if (!cpu_softmax_fast(x)) return at::softmax(x, -1);
  at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
  cpu_softmax_out(out, x);
  return out;
}

}  // namespace ftdr::torchbe
