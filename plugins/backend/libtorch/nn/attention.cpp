// nn/attention.cpp: naive, sliced and SDPA attention with identical math.
#include "nn/attention.hpp"

#include <torch/version.h>

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/cpu_softmax.hpp"
#include "nn/gemm_workers.hpp"

namespace ftdr::torchbe {
namespace {

// [B, N, H*d] -> [B*H, N, d]
at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2) / heads;
  return x.reshape({b, n, heads, d}).permute({0, 2, 1, 3}).reshape({b * heads, n, d});
}

// [B*H, N, d] -> [B, N, H*d]
at::Tensor merge_heads(const at::Tensor& x, int64_t heads) {
  const int64_t bh = x.size(0), n = x.size(1), d = x.size(2);
  return x.reshape({bh / heads, heads, n, d}).permute({0, 2, 1, 3}).reshape({bh / heads, n, heads * d});
}

// True when scores and softmax run in float32 for reduced-precision q (the `upcast` setting).
bool needs_upcast(const at::Tensor& q, bool upcast) {
  return upcast && q.scalar_type() != at::kFloat && q.scalar_type() != at::kDouble;
}

// softmax(q k^T * scale + mask) v for q [BH, n, d], k/v [BH, M, d]; mask [BH or 1, n, M] or undefined.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, bool upcast,
                  const at::Tensor& mask) {
  const bool up = needs_upcast(q, upcast);
  at::Tensor qq = up ? q.to(at::kFloat) : q, kk = up ? k.to(at::kFloat) : k;
  // Scaled in place: a separate "* scale" allocated a second N x M score matrix. (Scaling q before
  // the GEMM instead made an image differ between a batch of two and two batches of one, which
  // batch splitting relies on; baddbmm with beta = 0 on an empty tensor, diffusers' way, leaks NaN
  // from the uninitialised input through libtorch 1.13's small-matrix kernel.)
  at::Tensor scores = at::bmm(qq, kk.transpose(1, 2)).mul_(scale);
  if (mask.defined()) scores.add_(mask.to(scores.scalar_type()));
  at::Tensor probs = cpu_softmax(scores);
  return at::bmm(probs.to(v.scalar_type()), v);
}

// True when attend_per_head() serves this call: CPU tensors, no autograd (the per-head route writes
// into reused buffers, which autograd cannot record), and either heads that may run side by side
// (gemm_workers() > 1: every size gains from the second core) or one sample's scores (all its heads)
// of kPerHeadMinScoreBytes or more (below that the batched form is as fast on one thread: no fresh
// pages, and one call instead of a loop). The size is per sample, not per batch, so an image takes
// the same route alone and in a batch: a batched GEMM may round a matrix differently from the
// matrix alone (libtorch 2.x's MKL bmm does), and batch splitting relies on an image not changing.
bool per_head_route(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads,
                    int64_t rows, int workers) {
  const bool grad =
      at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  const double bytes = static_cast<double>(heads) * static_cast<double>(rows) *
                       static_cast<double>(k.size(1)) * static_cast<double>(q.element_size());
  return q.device().is_cpu() && !grad && (workers > 1 || bytes >= kPerHeadMinScoreBytes);
}

// q k^T * scale into s. Without a mask the GEMM scales (alpha; beta = 0 overwrites s): a separate
// pass over the scores cost as much as the GEMM itself at SD-1.5's sizes (4096 x 4096 per head,
// d = 40: 31 ms against 17.5 ms; the same bits). With a mask s may hold -inf from the previous head,
// and a kernel that reads s despite beta = 0 would make NaN of it: there the scaling stays apart.
void scaled_scores(at::Tensor& s, const at::Tensor& q, const at::Tensor& kt, double scale, bool masked) {
  if (masked) {
    at::mm_out(s, q, kt).mul_(scale);
    return;
  }
  s.addmm_(q, kt, /*beta=*/0, /*alpha=*/scale);
}

// One worker's score and probability buffers, reused by every block of rows it attends.
struct ScoreBuffers {
  at::Tensor scores, probs;
};

// attend() one head and up to `slice` query rows at a time, into buffers reused by every head. Why:
// at SD-1.5's first level (B*H = 16 heads of 4096 x 4096) the batched form allocates 1 GiB of
// scores and 1 GiB of probabilities per attention, and every fresh allocation of that size is new
// pages the kernel must fault in and zero; two 64 MiB buffers reused 16 times are 0.5-0.75x the time
// (Python, same libtorch, 1 and 2 threads) with identical results. With `workers` > 1 the blocks run
// side by side (gemm_workers.hpp); a slice of kCutHeadMinScoreBytes or more is cut once more into
// `workers` blocks, so the workers' buffers together hold one slice's scores, as one worker's do
// (the cut depends on the slice's size, not on the batch); a smaller slice is one worker's whole. The score
// buffer starts zeroed unless BLAS computes it (float32/64 scores: BLAS never reads C when beta = 0), so
// libtorch's own GEMM for half types never sees uninitialised memory.
at::Tensor attend_per_head(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                           bool upcast, const at::Tensor& mask, int64_t slice, int workers) {
  const bool up = needs_upcast(q, upcast);
  const int64_t bh = q.size(0), n = q.size(1), m = k.size(1);
  const auto score_options = q.options().dtype(up ? at::kFloat : q.scalar_type());
  const double slice_bytes = static_cast<double>(slice) * static_cast<double>(m) *
                             static_cast<double>(c10::elementSize(score_options.dtype().toScalarType()));
  const int64_t cut = slice_bytes >= kCutHeadMinScoreBytes ? workers : 1;
  const int64_t rows = std::max<int64_t>((slice + cut - 1) / cut, 1);
  const int64_t blocks = (n + rows - 1) / rows;
  const bool blas = score_options.dtype() == at::kFloat || score_options.dtype() == at::kDouble;
  std::vector<ScoreBuffers> buffers;
  for (int w = 0; w < workers; ++w)
    buffers.push_back({blas ? at::empty({rows, m}, score_options) : at::zeros({rows, m}, score_options),
                       at::empty({rows, m}, score_options)});
  at::Tensor out = at::empty({bh, n, v.size(2)}, v.options());
  const at::Tensor keys = up ? k.to(at::kFloat) : k;  // once, not once per block of rows
  run_side_by_side(bh * blocks, workers, [&](int64_t item, int worker) {
    const int64_t i = item / blocks, start = (item % blocks) * rows, count = std::min(n - start, rows);
    at::Tensor s = buffers[worker].scores.narrow(0, 0, count), p = buffers[worker].probs.narrow(0, 0, count);
    const at::Tensor kt = keys[i].t();
    const at::Tensor qi = q[i].narrow(0, start, count);
    scaled_scores(s, up ? qi.to(at::kFloat) : qi, kt, scale, mask.defined());
    if (mask.defined()) s.add_(mask[mask.size(0) == 1 ? 0 : i].narrow(0, start, count).to(s.scalar_type()));
    cpu_softmax_out(p, s);
    at::Tensor o = out[i].narrow(0, start, count);
    at::mm_out(o, up ? p.to(v.scalar_type()) : p, v[i]);
  });
  return out;
}

// The mask broadcast to [B*H, N, M] (or [1, N, M] when it does not vary by batch/head).
at::Tensor flatten_mask(const at::Tensor& mask, int64_t b, int64_t heads, int64_t n, int64_t m) {
  if (!mask.defined()) return mask;
  at::Tensor m4 = mask;
  while (m4.dim() < 4) m4 = m4.unsqueeze(0);
  if (m4.size(0) == 1 && m4.size(1) == 1) return m4.expand({1, 1, n, m}).reshape({1, n, m});
  return m4.expand({b, heads, n, m}).reshape({b * heads, n, m});
}

}  // namespace

bool sdpa_available() {
#if TORCH_VERSION_MAJOR >= 2
  return true;
#else
  return false;
#endif
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads,
                     const AttentionSettings& settings, bool upcast, const at::Tensor& mask) {
  const int64_t b = q.size(0), n = q.size(1), m = k.size(1), d = q.size(2) / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
#if TORCH_VERSION_MAJOR >= 2
  if (settings.mode == AttentionMode::sdpa) {
    auto to4 = [&](const at::Tensor& x) { return x.reshape({b, x.size(1), heads, d}).transpose(1, 2); };
    c10::optional<at::Tensor> m4;
    if (mask.defined()) m4 = mask.to(q.scalar_type());
    at::Tensor out = at::scaled_dot_product_attention(to4(q), to4(k), to4(v), m4);
    return out.transpose(1, 2).reshape({b, n, heads * d});
  }
#endif
  const at::Tensor qh = split_heads(q, heads), kh = split_heads(k, heads), vh = split_heads(v, heads);
  const at::Tensor mh = flatten_mask(mask, b, heads, n, m);
  // Sliced: query rows in chunks; each row's softmax sees all keys, so the math is unchanged.
  const bool sliced = settings.mode == AttentionMode::sliced;
  const int64_t slice = !sliced                   ? n
                        : settings.slice_size > 0 ? std::min<int64_t>(settings.slice_size, n)
                                                  : (n + 1) / 2;
  const int workers = gemm_workers();
  if (per_head_route(qh, kh, vh, heads, slice, workers))
    return merge_heads(attend_per_head(qh, kh, vh, scale, upcast, mh, slice, workers), heads);
  if (!sliced) return merge_heads(attend(qh, kh, vh, scale, upcast, mh), heads);

  at::Tensor out = at::empty({b * heads, n, d}, q.options());
  for (int64_t start = 0; start < n; start += slice) {
    const int64_t end = std::min(n, start + slice);
    at::Tensor ms = mh.defined() ? mh.slice(1, start, end) : mh;
    out.slice(1, start, end).copy_(attend(qh.slice(1, start, end), kh, vh, scale, upcast, ms));
  }
  return merge_heads(out, heads);
}

}  // namespace ftdr::torchbe
