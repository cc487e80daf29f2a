// nn/attention.cpp: naive, sliced and SDPA attention with identical math.
#include "nn/attention.hpp"

#include <torch/version.h>

#include <cmath>

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

// softmax(q k^T * scale + mask) v for q [BH, n, d], k/v [BH, M, d]; mask [BH or 1, n, M] or undefined.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, bool upcast,
                  const at::Tensor& mask) {
  const bool up = upcast && q.scalar_type() != at::kFloat && q.scalar_type() != at::kDouble;
  at::Tensor qq = up ? q.to(at::kFloat) : q, kk = up ? k.to(at::kFloat) : k;
  // Scaled in place: a separate "* scale" allocated a second N x M score matrix. (Scaling q before
  // the GEMM instead made an image differ between a batch of two and two batches of one, which
  // batch splitting relies on; baddbmm with beta = 0 on an empty tensor, diffusers' way, leaks NaN
  // from the uninitialised input through libtorch 1.13's small-matrix kernel.)
  at::Tensor scores = at::bmm(qq, kk.transpose(1, 2)).mul_(scale);
  if (mask.defined()) scores.add_(mask.to(scores.scalar_type()));
  at::Tensor probs = at::softmax(scores, -1);
  return at::bmm(probs.to(v.scalar_type()), v);
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
  if (settings.mode != AttentionMode::sliced)
    return merge_heads(attend(qh, kh, vh, scale, upcast, mh), heads);

  // Sliced: query rows in chunks; each row's softmax sees all keys, so the math is unchanged.
  const int64_t slice = settings.slice_size > 0 ? settings.slice_size : (n + 1) / 2;
  at::Tensor out = at::empty({b * heads, n, d}, q.options());
  for (int64_t start = 0; start < n; start += slice) {
    const int64_t end = std::min(n, start + slice);
    at::Tensor ms = mh.defined() ? mh.slice(1, start, end) : mh;
    out.slice(1, start, end).copy_(attend(qh.slice(1, start, end), kh, vh, scale, upcast, ms));
  }
  return merge_heads(out, heads);
}

}  // namespace ftdr::torchbe
