// nn/attention.hpp: the one scaled-dot-product attention every attention block calls.
//
//   at::Tensor out = attention(q, k, v, heads, settings, /*upcast=*/cfg.upcast_attention);
//
// q: [B, N, heads*d], k and v: [B, M, heads*d] -> [B, N, heads*d]; scale 1/sqrt(d).
// Modes (identical math, different memory):
//   naive  - softmax(q k^T * scale) v over all query rows at once: B*heads*N*M scores in memory
//            (on the CPU, when one sample's are 32 MiB or more, one head at a time in two reused
//            N x M buffers: 2*N*M floats instead of 2*B*heads*N*M, and faster; at every size when
//            the BLAS runs on one thread, heads side by side on libtorch's threads, each with
//            buffers for N / threads rows: nn/gemm_workers.hpp).
//   sliced - the same, slice_size query rows at a time (0 = N/2, rounded up), so only
//            B*heads*slice*M scores (on the CPU: slice*M per buffer) exist at once. Each row's
//            softmax is computed whole, so the result equals naive up to float rounding of the
//            matmul blocking.
//   sdpa   - at::scaled_dot_product_attention (flash / memory-efficient kernels on CUDA). Only with
//            libtorch >= 2 (TORCH_VERSION_MAJOR >= 2); on libtorch 1.x it falls back to naive.
// upcast: compute scores and softmax in float32 when q is f16/bf16 (diffusers' upcast_attention /
// upcast_softmax); the probabilities are cast back before multiplying with v. No effect in f32.
// mask (optional): additive float mask broadcastable to [B, heads, N, M] (e.g. CLIP's causal mask).
#pragma once
#include <ATen/ATen.h>

#include <memory>

namespace ftdr::torchbe {

enum class AttentionMode { naive, sliced, sdpa };

struct AttentionSettings {
  AttentionMode mode = AttentionMode::naive;
  int slice_size = 0;  // query rows per slice in sliced mode; 0 = half the rows
};

// Modules share one settings object with their top-level network: set_attention() on the network
// changes every block at once.
using AttentionSettingsPtr = std::shared_ptr<AttentionSettings>;

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads,
                     const AttentionSettings& settings, bool upcast, const at::Tensor& mask = {});

// On the CPU, when one sample's scores (heads * rows * keys elements) would take at least this many
// bytes, or GEMMs run side by side (gemm_workers() > 1), they are computed one head at a time (naive and
// sliced modes; pipeline/activation_estimate.cpp counts them so). Per sample, so an image's route does not
// depend on its batch.
inline constexpr double kPerHeadMinScoreBytes = 32.0 * 1024 * 1024;

// With heads side by side, a head whose slice of scores (rows * keys elements) is at least this
// many bytes is cut into one block of rows per worker, so that one large head (the VAE's single
// one) keeps every worker busy; a smaller head is one worker's item whole (the tiny models' 256 x
// 256: half the calls, and each GEMM twice as tall). The cut depends on the head's size, not on
// the batch.
inline constexpr double kCutHeadMinScoreBytes = 4.0 * 1024 * 1024;

// True when this build can run AttentionMode::sdpa natively (libtorch >= 2).
bool sdpa_available();

}  // namespace ftdr::torchbe
