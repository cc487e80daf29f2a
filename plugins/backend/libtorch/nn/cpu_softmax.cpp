// nn/cpu_softmax.cpp: see cpu_softmax.hpp.
#include "nn/cpu_softmax.hpp"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ftdr::torchbe {
namespace {

#if defined(__x86_64__)

bool cpu_has_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

#define FTDR_AVX2 __attribute__((target("avx2,fma")))

// exp(x) for x <= 0 (softmax's x - max), NaN kept: 2^n * exp(r), n = round(x / ln 2),
// r = x - n ln 2 (ln 2 in two parts, so r is exact), exp(r) by Cephes' expf polynomial. Below
// kUnderflow the result would leave the normal floats (2^n's exponent field): 0 instead.
FTDR_AVX2 inline __m256 exp_nonpositive(__m256 x) {
  constexpr float kUnderflow = -87.33654f;                                            // ln(FLT_MIN)
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(kUnderflow), _CMP_LT_OQ);  // -inf too; not NaN
  x = _mm256_max_ps(_mm256_set1_ps(kUnderflow), x);  // x second: a NaN x stays NaN
  const __m256 n =
      _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // n in [-126, 0] for x in [kUnderflow, 0]: 2^n as a float's exponent field (garbage for NaN
  // lanes, whose p is NaN already).
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// Lanes [0, count) of a vector (count < 8): the row's tail goes through the same code as its body.
FTDR_AVX2 inline __m256i first_lanes(std::int64_t count) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lane);
}

// The row's last n % 8 elements; lanes past the row read as -inf (exp 0: they add nothing).
FTDR_AVX2 inline __m256 load_tail(const float* x, __m256i lanes) {
  return _mm256_blendv_ps(_mm256_set1_ps(-std::numeric_limits<float>::infinity()),
                          _mm256_maskload_ps(x, lanes), _mm256_castsi256_ps(lanes));
}

FTDR_AVX2 inline float horizontal_max(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

FTDR_AVX2 inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

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

#undef FTDR_AVX2

#else

bool cpu_has_avx2_fma() { return false; }
void softmax_row(const float*, float*, std::int64_t) {}

#endif

}  // namespace

bool cpu_softmax_fast(const at::Tensor& x) {
  return cpu_has_avx2_fma() && x.device().is_cpu() && x.scalar_type() == at::kFloat && x.dim() >= 1 &&
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
  // At least 32768 elements per task (libtorch's own grain): a small matrix stays on one thread.
  const std::int64_t grain = std::max<std::int64_t>(1, 32768 / cols);
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
