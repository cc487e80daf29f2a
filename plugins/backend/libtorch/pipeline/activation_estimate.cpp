// backend/activation_estimate.cpp: the formulas documented in activation_estimate.h.
#include "pipeline/activation_estimate.hpp"

#include "nn/attention.hpp"

#include <algorithm>
#include <cmath>

namespace ftdr::torchbe {
namespace {

double element_bytes(sdk::DType dtype) { return dtype == sdk::DType::f32 ? 4.0 : 2.0; }

bool is_cross_attention_block(const std::string& type) { return type.rfind("CrossAttn", 0) == 0; }

double text_encoder_bytes(const CLIPTextConfig& te, double e) {
  const double tokens = 2.0 * static_cast<double>(te.max_position_embeddings);
  const double hidden = static_cast<double>(te.hidden_size),
               inter = static_cast<double>(te.intermediate_size);
  const double scores = 2.0 * static_cast<double>(te.num_attention_heads) * te.max_position_embeddings *
                        static_cast<double>(te.max_position_embeddings);
  return (tokens * (4.0 * hidden + inter) + scores) * e;
}

// Query rows whose scores exist at once for this mode (see the header).
// True when scores of `sample_bytes` per sample are computed per head on the CPU, in buffers reused
// head after head (nn/attention.cpp: per_head_route).
bool per_head(const EstimateContext& ctx, double sample_bytes) {
  return ctx.per_head_scores && (ctx.head_workers > 1 || sample_bytes >= kPerHeadMinScoreBytes);
}

// The per-head route's buffers (scores and probabilities) for one head's `head_bytes` of scores:
// one head's, cut between the workers when large, else one whole head per worker.
double per_head_buffers(const EstimateContext& ctx, double head_bytes) {
  const bool whole = ctx.head_workers > 1 && head_bytes < kCutHeadMinScoreBytes;
  return 2.0 * head_bytes * (whole ? ctx.head_workers : 1);
}

double score_rows(sdk::AttentionMode mode, int slice, double tokens, bool sdpa_native) {
  switch (mode) {
    case sdk::AttentionMode::sliced:
      return slice > 0 ? std::min<double>(slice, tokens) : std::ceil(tokens / 2);
    case sdk::AttentionMode::sdpa: return sdpa_native ? 0.0 : tokens;
    default: return tokens;
  }
}

sdk::AttentionMode resolve_mode(const EstimateContext& ctx, const sdk::RuntimeOptions& options) {
  if (options.attention != sdk::AttentionMode::automatic) return options.attention;
  if (ctx.default_attention != sdk::AttentionMode::automatic) return ctx.default_attention;
  return ctx.sdpa_native ? sdk::AttentionMode::sdpa : sdk::AttentionMode::naive;
}

double unet_bytes(const ModelFolder& m, const EstimateContext& ctx, const sdk::GenerationParams& p,
                  double e) {
  const double vsf = static_cast<double>(m.vae.scale_factor());
  const double h = std::ceil(p.height / vsf), w = std::ceil(p.width / vsf);
  const double bu = static_cast<double>(p.batch) * (p.request.cfg_scale > 1.0 ? 2.0 : 1.0);
  const sdk::AttentionMode mode = resolve_mode(ctx, p.options);
  const auto& u = m.unet;
  double skips = 0, work = 0;
  for (std::size_t i = 0; i < u.block_out_channels.size(); ++i) {
    const double scale = static_cast<double>(1u << i);
    const double n = std::ceil(h / scale) * std::ceil(w / scale);
    const double c = static_cast<double>(u.block_out_channels[i]);
    const double layers = static_cast<double>(i < u.layers_per_block.size() ? u.layers_per_block[i] : 2);
    skips += (layers + 1.0) * bu * c * n * e;
    double level = 6.0 * bu * c * n * e;
    if (i < u.down_block_types.size() && is_cross_attention_block(u.down_block_types[i])) {
      const double heads = static_cast<double>(i < u.attention_heads.size() ? u.attention_heads[i] : 8);
      level += 12.0 * bu * c * n * e;
      const double rows = score_rows(mode, p.options.attention_slice_size, n, ctx.sdpa_native);
      auto scores = [&](double keys) {  // scores + probabilities, for every head or one at a time
        const double sample = heads * rows * keys * e;
        return per_head(ctx, sample) ? per_head_buffers(ctx, sample / heads) : 2.0 * bu * sample;
      };
      level += scores(n) + scores(ctx.context_positions);  // self- and cross-attention
    }
    work = std::max(work, level);
  }
  const double latents = 4.0 * bu * static_cast<double>(u.in_channels) * h * w * 4.0;
  return skips + work + latents;
}

double vae_decode_bytes(const ModelFolder& m, const EstimateContext& ctx, const sdk::GenerationParams& p,
                        double e) {
  const double vsf = static_cast<double>(m.vae.scale_factor());
  double h = std::ceil(p.height / vsf), w = std::ceil(p.width / vsf);
  if (p.options.vae_tiling) {
    h = std::min(h, 64.0);
    w = std::min(w, 64.0);
  }
  const double b = static_cast<double>(p.batch);
  const double c0 = static_cast<double>(m.vae.block_out_channels.front());
  const double feature = 4.0 * b * c0 * (vsf * h) * (vsf * w) * e;
  const double scores = (h * w) * (h * w) * e;  // one sample's (one head)
  const double mid_attention = !m.vae.mid_block_add_attention ? 0.0
                               : per_head(ctx, scores)        ? per_head_buffers(ctx, scores)
                                                              : 2.0 * b * scores;
  return feature + mid_attention;
}

}  // namespace

std::uint64_t estimate_activation_bytes(const ModelFolder& model, const EstimateContext& ctx,
                                        sdk::Phase phase, const sdk::GenerationParams& params) {
  const sdk::DType dtype = ctx.run_dtype;
  double bytes = 0;
  switch (phase) {
    case sdk::Phase::initializing: bytes = 0; break;
    case sdk::Phase::encoding:
      bytes = text_encoder_bytes(model.text_encoder, element_bytes(dtype));
      // SDXL's encoders run one after the other: the larger one's activations, plus what the first
      // leaves for the concatenation.
      if (model.text_encoder_2)
        bytes = std::max(bytes, text_encoder_bytes(*model.text_encoder_2, element_bytes(dtype))) +
                2.0 * static_cast<double>(model.text_encoder.max_position_embeddings) *
                    static_cast<double>(model.unet.cross_attention_dim) * element_bytes(dtype);
      break;
    case sdk::Phase::diffusion: bytes = unet_bytes(model, ctx, params, element_bytes(dtype)); break;
    case sdk::Phase::decoding: {
      // SDXL's VAE (force_upcast) decodes in f32 when the run is f16 (TorchBackend::sdxl_vae_upcast).
      const bool sdxl_upcast = model.is_sdxl() && model.vae.force_upcast && dtype == sdk::DType::f16;
      const sdk::DType vae_dtype = params.options.upcast_vae || sdxl_upcast ? sdk::DType::f32 : dtype;
      bytes = vae_decode_bytes(model, ctx, params, element_bytes(vae_dtype));
      break;
    }
  }
  return static_cast<std::uint64_t>(std::max(0.0, bytes));
}

}  // namespace ftdr::torchbe
