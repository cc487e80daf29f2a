// nn/avx2_math.hpp: the AVX2/FMA vector math our CPU kernels share (nn/cpu_softmax, nn/cpu_geglu).
//
// Header-only and internal: every function carries FTDR_AVX2 (the target attribute), so the file
// that includes it needs no -mavx2 and runs anywhere; call them only when cpu_has_avx2_fma().
// The vector functions exist on x86-64 only (FTDR_HAVE_AVX2_MATH is 0 elsewhere, and
// cpu_has_avx2_fma() false).
#pragma once
#if defined(__x86_64__)
#define FTDR_HAVE_AVX2_MATH 1
#include <immintrin.h>

#include <cstdint>
#include <limits>

#define FTDR_AVX2 __attribute__((target("avx2,fma")))

namespace ftdr::torchbe::avx2 {

// True when this CPU runs AVX2 and FMA (checked once).
inline bool cpu_has_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

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

}  // namespace ftdr::torchbe::avx2
#else
#define FTDR_HAVE_AVX2_MATH 0
namespace ftdr::torchbe::avx2 {
inline bool cpu_has_avx2_fma() { return false; }
}  // namespace ftdr::torchbe::avx2
#endif
