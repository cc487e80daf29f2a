// pipeline/activation_estimate.hpp: analytic estimate of the activation memory (beyond weights) of
// one phase, from the model's config dims. Memory policies compare it with free device memory; the
// framework calibrates it against measured peaks, so it aims at the right order and the right
// scaling (quadratic in pixels for attention, linear in batch), not at exactness.
//
// Notation: e = bytes per element of the run dtype, B = images in the sub-batch, Bu = B * 2 when
// classifier-free guidance runs (cfg_scale > 1) else B, latent h x w = image / vae_scale_factor,
// level i of the UNet has c_i = block_out_channels[i] channels at (h/2^i) x (w/2^i) = n_i tokens.
//
//  text encoder (encoding):  2 prompts x 77 tokens x (4 hidden + intermediate) x e
//                            + 2 x heads x 77 x 77 x e (scores)                      [small]
//  UNet (diffusion):         skips  = sum over down levels of (layers+1) x Bu x c_i x n_i x e
//                                     (every down-block output is kept for the up path)
//                          + work   = max over levels of
//                                       6 x Bu x c_i x n_i x e     (resnet: norm, act, conv, residual)
//                                     + at attention levels: 12 x Bu x c_i x n_i x e (GEGLU FF 8c + 4c)
//                                       + scores: 2 (scores + probabilities) x Bu x heads_i x
//                                         rows x n_i x e, rows = n_i (naive), the slice size (sliced;
//                                         0 = n_i / 2), or 0 with sdpa on libtorch >= 2 (fused
//                                         kernels keep no score matrix; 1.x falls back to naive)
//                                       + cross-attention scores: 2 x Bu x heads_i x rows x T x e,
//                                         T = context positions (77, or 77 per A1111 chunk)
//                                       (on the CPU, when one sample's are kPerHeadMinScoreBytes or
//                                       more or heads run side by side, they exist for one head's
//                                       rows at a time: Bu x heads_i -> 1)
//                          + latents: 4 x Bu x C x h x w x 4 (f32 sampler state, noise, guidance)
//  VAE decode (decoding):    on a tile when vae_tiling is on (64 x 64 latent pixels at most, the
//                            overlap tiler's default), else the whole latent; e is f32 when the VAE
//                            is upcast. 4 x B x c_0 x (scale h) x (scale w) x e (the largest
//                            feature map, at full resolution) + 2 x B x (h w)^2 x e (the one-head
//                            attention in the mid block, at latent resolution; B -> 1 on the CPU
//                            when one image's are kPerHeadMinScoreBytes or more or heads run side
//                            by side).
//  initializing:             0 (weights are counted by components()).
#pragma once
#include <cstdint>

#include "ftdr/sdk/types.hpp"
#include "io/model_folder.hpp"

namespace ftdr::torchbe {

struct EstimateContext {
  sdk::DType run_dtype = sdk::DType::f32;                                // the backend's configured dtype
  sdk::AttentionMode default_attention = sdk::AttentionMode::automatic;  // resolves options "auto"
  bool sdpa_native = false;                                              // libtorch >= 2
  double context_positions = 77;  // text positions the UNet attends to (context_positions())
  bool per_head_scores = false;   // the CPU: large score matrices one head at a time (nn/attention.hpp)
  int head_workers = 1;  // ... every size when > 1: heads side by side on this many (nn/gemm_workers.hpp)
};

std::uint64_t estimate_activation_bytes(const ModelFolder& model, const EstimateContext& ctx,
                                        sdk::Phase phase, const sdk::GenerationParams& params);

}  // namespace ftdr::torchbe
