// nn/cpu_geglu.cpp: see cpu_geglu.hpp.
#include "nn/cpu_geglu.hpp"

#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cstdint>

#include "nn/avx2_math.hpp"
#include "nn/per_sample_activation.hpp"

namespace ftdr::torchbe {
namespace {

#if FTDR_HAVE_AVX2_MATH

using namespace avx2;  // NOLINT: this file's kernels are written in its vocabulary

// 1 + erf(g / sqrt 2), the GELU's factor: with z = |g| / sqrt 2, erfc(z) = t P(t) exp(-z^2),
// t = 1 / (1 + p z) (A&S 7.1.26); 2 - erfc(z) for g >= 0, erfc(z) itself for g < 0. NaN stays NaN.
FTDR_AVX2 inline __m256 one_plus_erf(__m256 g) {
  const __m256 z =
      _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), g), _mm256_set1_ps(0.70710678118654752f));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), z, one));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  p = _mm256_mul_ps(p, t);
  const __m256 erfc =
      _mm256_mul_ps(p, exp_nonpositive(_mm256_mul_ps(_mm256_xor_ps(z, _mm256_set1_ps(-0.0f)), z)));
  const __m256 positive = _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_GE_OQ);
  return _mm256_blendv_ps(erfc, _mm256_sub_ps(_mm256_set1_ps(2.0f), erfc), positive);
}

// hidden * 0.5 * gate * (1 + erf(gate / sqrt 2)).
FTDR_AVX2 inline __m256 gated(__m256 hidden, __m256 gate) {
  return _mm256_mul_ps(hidden, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), gate), one_plus_erf(gate)));
}

FTDR_AVX2 void geglu_row(const float* h, float* y, std::int64_t c) {
  const float* gate = h + c;
  const std::int64_t body = c - c % 8;
  for (std::int64_t i = 0; i < body; i += 8)
    _mm256_storeu_ps(y + i, gated(_mm256_loadu_ps(h + i), _mm256_loadu_ps(gate + i)));
  if (body < c) {
    const __m256i tail = first_lanes(c - body);
    _mm256_maskstore_ps(y + body, tail,
                        gated(_mm256_maskload_ps(h + body, tail), _mm256_maskload_ps(gate + body, tail)));
  }
}

#else

void geglu_row(const float*, float*, std::int64_t) {}

#endif

}  // namespace

bool cpu_geglu_fast(const at::Tensor& h) {
  return avx2::cpu_has_avx2_fma() && h.device().is_cpu() && h.scalar_type() == at::kFloat && h.dim() >= 1 &&
         h.is_contiguous() && h.size(-1) > 0 && h.size(-1) % 2 == 0 &&
         !(at::GradMode::is_enabled() && h.requires_grad());
}

at::Tensor cpu_geglu(const at::Tensor& h) {
  if (!cpu_geglu_fast(h)) {
    const auto parts = h.chunk(2, -1);
    return parts[0] * gelu_per_sample(parts[1]);
  }
  const std::int64_t c = h.size(-1) / 2, rows = h.numel() / (2 * c);
  auto sizes = h.sizes().vec();
  sizes.back() = c;
  at::Tensor out = at::empty(sizes, h.options());
  const float* in = h.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  // At least libtorch's own grain of outputs per task; any split gives the same result.
  const std::int64_t grain = std::max<std::int64_t>(1, at::internal::GRAIN_SIZE / c);
  at::parallel_for(0, rows, grain, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t r = first; r < last; ++r) geglu_row(in + r * 2 * c, dst + r * c, c);
  });
  return out;
}

}  // namespace ftdr::torchbe
