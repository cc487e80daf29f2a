// nn/cpu_silu.cpp: see cpu_silu.hpp.
#include "nn/cpu_silu.hpp"

#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cstdint>

#include "nn/avx2_math.hpp"

namespace ftdr::torchbe {
namespace {

#if FTDR_HAVE_AVX2_MATH

using namespace avx2;  // NOLINT: this file's kernels are written in its vocabulary

FTDR_AVX2 inline __m256 silu(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 u = exp_nonpositive(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));  // exp(-|x|); NaN stays
  const __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
  const __m256 sigmoid = _mm256_div_ps(_mm256_blendv_ps(u, one, positive), _mm256_add_ps(one, u));
  return _mm256_mul_ps(x, sigmoid);
}

FTDR_AVX2 void silu_range(const float* x, float* y, std::int64_t n) {
  const std::int64_t body = n - n % 8;
  for (std::int64_t i = 0; i < body; i += 8) _mm256_storeu_ps(y + i, silu(_mm256_loadu_ps(x + i)));
  if (body < n) {
    const __m256i tail = first_lanes(n - body);
    _mm256_maskstore_ps(y + body, tail, silu(_mm256_maskload_ps(x + body, tail)));
  }
}

#else

void silu_range(const float*, float*, std::int64_t) {}

#endif

// Elements per block, a multiple of 8; blocks are shared between the threads from libtorch's grain
// of elements on. Where a thread's share ends never changes a result.
constexpr std::int64_t kBlock = 8192;
constexpr std::int64_t kGrainBlocks = at::internal::GRAIN_SIZE / kBlock;

}  // namespace

bool cpu_silu_fast(const at::Tensor& t) {
  return avx2::cpu_has_avx2_fma() && t.device().is_cpu() && t.scalar_type() == at::kFloat &&
         t.is_non_overlapping_and_dense() && !(at::GradMode::is_enabled() && t.requires_grad());
}

void cpu_silu_out(const at::Tensor& out, const at::Tensor& x) {
  TORCH_CHECK(
      cpu_silu_fast(x) && out.sizes() == x.sizes() && out.strides() == x.strides() &&
          out.scalar_type() == at::kFloat,
      "cpu_silu_out: expected a dense float32 CPU tensor (cpu_silu_fast) and out of its sizes and strides");
  const std::int64_t n = x.numel();
  const float* in = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  at::parallel_for(0, blocks, kGrainBlocks, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t b = first; b < last; ++b)
      silu_range(in + b * kBlock, dst + b * kBlock, std::min(kBlock, n - b * kBlock));
  });
}

}  // namespace ftdr::torchbe
