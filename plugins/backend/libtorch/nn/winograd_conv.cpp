// nn/winograd_conv.cpp: see winograd_conv.hpp.
//
// Layout. Tiles are numbered row by row (tile row r covers output rows 2r, 2r+1; tile column c
// output columns 2c, 2c+1) and processed in bands of consecutive tiles, one band at a time per
// thread, each thread with its own buffers. A band's tiles lie in panels of kPanel tiles (each tile
// row's run of tiles starts a new panel): V[16 positions][panel][C][kPanel] holds the transformed
// input tiles, M[16][Kp][ld] their products with the weights (column panel * kPanel + lane). The
// transformed weights are packed once per call as U[16][Kp / kBlock][C][kBlock].
//
// The product for one position is a matrix product over the input channels, blocked as BLAS
// libraries block theirs: the kernel (tile_gemm) makes kBlock output channels of one panel with
// twelve AVX2 accumulators, broadcasting each weight against the panel's two vectors of tiles, the
// whole sum over C in one call (M is written once). A group of output channels' weights (at most
// kGroupBytes) stays in L2 while every panel of the band passes it; a panel (C x kPanel floats)
// stays in L1 for the group. On two Zen 2 cores the kernel alone runs at ~100 GFLOP/s per core,
// the FMA units' peak; the whole convolution at 55-75% of that (the transforms and memory).
#include "nn/winograd_conv.hpp"

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "nn/avx2_math.hpp"

namespace ftdr::torchbe {
namespace {

#if FTDR_HAVE_AVX2_MATH

constexpr std::int64_t kPanel = 16;              // tiles per kernel call: two AVX2 vectors
constexpr std::int64_t kBlock = 6;               // output channels per kernel call
constexpr std::int64_t kGroupBytes = 192 << 10;  // output channels' weights a panel meets in turn (L2)
// A band's size: one position's V per band, at most. Where the transformed weights fit in a share
// of L3 (kSharedWeightBytes) every band reads them from there, and small bands keep V and M in the
// core's L2; larger weights come from memory, and larger bands read them less often. Measured on the
// SD VAE decoder's shapes (AMD EPYC Zen 2, 512 KiB L2 per core, 16 MiB L3, 2 threads): 128 channels at
// 512x512 0.27 s with 64 KiB, 0.49 s with 256 KiB; 512 channels at 128x128 0.37 s with 32 KiB,
// 0.29 s with 256 KiB.
constexpr std::int64_t kSharedWeightBytes = 4 << 20;
constexpr std::int64_t kSmallBandBytes = 64 << 10;
constexpr std::int64_t kLargeBandBytes = 256 << 10;

std::int64_t round_up(std::int64_t n, std::int64_t to) { return (n + to - 1) / to * to; }

// The sizes one call works with. Kp: output channels rounded up to kBlock (the extra ones have zero
// weights and are not written). panels: the most panels a band's tiles take. ld: an M row's length,
// panels * kPanel rounded up to an odd number of 64-byte cache lines, so that the kernel's rows of
// M (ld apart) fall in different L1 sets; m_stride adds a line per position for the 16 streams the
// output transform reads.
struct Plan {
  std::int64_t C, K, Kp, H, W;
  std::int64_t tile_rows, tile_cols, tiles;
  std::int64_t band;  // tiles per band
  std::int64_t panels, v_stride, ld, m_stride;
};

Plan plan_for(std::int64_t C, std::int64_t K, std::int64_t H, std::int64_t W) {
  Plan p{C, K, round_up(K, kBlock), H, W, (H + 1) / 2, (W + 1) / 2, 0, 0, 0, 0, 0, 0};
  p.tiles = p.tile_rows * p.tile_cols;
  const std::int64_t u_bytes = 16 * p.Kp * C * 4;
  const std::int64_t v_bytes = u_bytes <= kSharedWeightBytes ? kSmallBandBytes : kLargeBandBytes;
  p.band = std::min(p.tiles, std::max<std::int64_t>(kPanel, v_bytes / 4 / C / kPanel * kPanel));
  // A band's tiles start at most band / tile_cols + 2 runs, each wasting less than a panel.
  p.panels = p.band / kPanel + p.band / p.tile_cols + 3;
  p.v_stride = p.panels * C * kPanel + 16;
  p.ld = p.panels * kPanel + 16;
  p.ld += (48 - p.ld % 32) % 32;  // = 16 (mod 32) floats: an odd number of lines
  p.m_stride = p.Kp * p.ld + 16;
  return p;
}

// U = G g G^T for every (output, input) channel pair, packed as U[16][Kp / kBlock][C][kBlock].
std::vector<float> transform_weights(const float* weight, const Plan& p) {
  std::vector<float> u(16 * p.Kp * p.C, 0.0f);
  at::parallel_for(0, p.K, 1, [&](std::int64_t k_begin, std::int64_t k_end) {
    for (std::int64_t k = k_begin; k < k_end; ++k) {
      for (std::int64_t c = 0; c < p.C; ++c) {
        const float* g = weight + (k * p.C + c) * 9;
        float gg[4][3];  // G g
        for (int j = 0; j < 3; ++j) {
          gg[0][j] = g[j];
          gg[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
          gg[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
          gg[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; ++i) {
          const float row[4] = {gg[i][0], 0.5f * (gg[i][0] + gg[i][1] + gg[i][2]),
                                0.5f * (gg[i][0] - gg[i][1] + gg[i][2]), gg[i][2]};
          for (int j = 0; j < 4; ++j) {
            u[(((i * 4 + j) * p.Kp / kBlock + k / kBlock) * p.C + c) * kBlock + k % kBlock] = row[j];
          }
        }
      }
    }
  });
  return u;
}

// A run of tiles within one tile row: tiles [col, col + count) of tile row row, from panel panel
// of the band on.
struct Segment {
  std::int64_t row, col, count, panel;
};

std::vector<Segment> segments(const Plan& p, std::int64_t first, std::int64_t last) {
  std::vector<Segment> out;
  std::int64_t panel = 0;
  for (std::int64_t t = first; t < last;) {
    const std::int64_t row = t / p.tile_cols, col = t % p.tile_cols;
    const std::int64_t count = std::min(p.tile_cols - col, last - t);
    out.push_back({row, col, count, panel});
    panel += (count + kPanel - 1) / kPanel;
    t += count;
  }
  return out;
}

// The transforms' row buffers for a run of n tiles: every panel's tiles and the one after the last.
std::int64_t row_length(std::int64_t n) { return round_up(n, kPanel) + 8; }

// Per thread: the band's V and M, and the transforms' rows.
struct Scratch {
  explicit Scratch(const Plan& p)
      : v(16 * p.v_stride, 0.0f),
        m(16 * p.m_stride, 0.0f),
        rows(10 * row_length(p.tile_cols)),
        out(4 * round_up(p.tile_cols, 8)) {}
  std::vector<float> v, m;
  std::vector<float> rows;  // 4 input rows split into even and odd columns, one padded input row
  std::vector<float> out;   // two output rows of a segment
};

// Splits 2n floats into n even-indexed and n odd-indexed ones (n a multiple of 8).
FTDR_AVX2 void deinterleave(const float* in, std::int64_t n, float* even, float* odd) {
  for (std::int64_t j = 0; j < n; j += 8, in += 16) {
    const __m256 a = _mm256_loadu_ps(in), b = _mm256_loadu_ps(in + 8);
    const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
    const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    _mm256_storeu_ps(even + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
    _mm256_storeu_ps(odd + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
  }
}

// One channel's 4x4 input tiles of a segment, transformed (B^T d B) into V. Tile c reads input
// columns 2c - 1 .. 2c + 2 of rows 2r - 1 .. 2r + 2, zero beyond the image. The input rows are
// split into even and odd columns first (e[j] = column 2(col + j) - 1, o[j] = column 2(col + j)),
// so that the transform is contiguous vector arithmetic. v: the channel's row of the segment's
// first panel for position 0; panel_stride and v_stride: the next panel's, the next position's.
FTDR_AVX2 void input_tiles(const float* plane, const Plan& p, const Segment& s, float* rows, float* v,
                           std::int64_t panel_stride, std::int64_t v_stride) {
  const std::int64_t n = s.count, len = row_length(n);
  float* e[4];
  float* o[4];
  float* padded = rows + 8 * len;
  const std::int64_t x0 = 2 * s.col - 1;  // the padded row's first input column
  for (int i = 0; i < 4; ++i) {
    e[i] = rows + (2 * i) * len;
    o[i] = rows + (2 * i + 1) * len;
    const std::int64_t y = 2 * s.row - 1 + i;
    std::fill(padded, padded + 2 * len, 0.0f);
    if (y >= 0 && y < p.H) {
      const std::int64_t from = std::max<std::int64_t>(x0, 0), to = std::min(x0 + 2 * (n + 1), p.W);
      if (to > from) std::memcpy(padded + (from - x0), plane + y * p.W + from, (to - from) * sizeof(float));
    }
    deinterleave(padded, len, e[i], o[i]);
  }
  // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3, in place, on even and odd columns alike.
  for (float** half : {e, o}) {
    for (std::int64_t j = 0; j < len; j += 8) {
      const __m256 d0 = _mm256_loadu_ps(half[0] + j), d1 = _mm256_loadu_ps(half[1] + j);
      const __m256 d2 = _mm256_loadu_ps(half[2] + j), d3 = _mm256_loadu_ps(half[3] + j);
      _mm256_storeu_ps(half[0] + j, _mm256_sub_ps(d0, d2));
      _mm256_storeu_ps(half[1] + j, _mm256_add_ps(d1, d2));
      _mm256_storeu_ps(half[2] + j, _mm256_sub_ps(d2, d1));
      _mm256_storeu_ps(half[3] + j, _mm256_sub_ps(d1, d3));
    }
  }
  // (B^T d) B: columns a - c, b + c, c - b, b - d of a tile's columns a b c d = e[j] o[j] e[j+1] o[j+1].
  for (std::int64_t j0 = 0; j0 < n; j0 += kPanel, v += panel_stride) {
    for (int i = 0; i < 4; ++i) {
      float* out = v + (4 * i) * v_stride;
      for (std::int64_t j = j0; j < j0 + kPanel; j += 8, out += 8) {
        const __m256 a = _mm256_loadu_ps(e[i] + j), b = _mm256_loadu_ps(o[i] + j);
        const __m256 c = _mm256_loadu_ps(e[i] + j + 1), d = _mm256_loadu_ps(o[i] + j + 1);
        _mm256_storeu_ps(out, _mm256_sub_ps(a, c));
        _mm256_storeu_ps(out + v_stride, _mm256_add_ps(b, c));
        _mm256_storeu_ps(out + 2 * v_stride, _mm256_sub_ps(c, b));
        _mm256_storeu_ps(out + 3 * v_stride, _mm256_sub_ps(b, d));
      }
    }
  }
}

// One output channel's row of the kernel: lo, hi += w * (v0, v1), w broadcast from *u.
FTDR_AVX2 inline void fma_row(const float* u, __m256 v0, __m256 v1, __m256& lo, __m256& hi) {
  const __m256 w = _mm256_broadcast_ss(u);
  lo = _mm256_fmadd_ps(w, v0, lo);
  hi = _mm256_fmadd_ps(w, v1, hi);
}

// m[kBlock rows, ld apart][kPanel] = u[C][kBlock]^T v[C][kPanel]: kBlock output channels of kPanel
// tiles at one position, the sum over the input channels in their order.
FTDR_AVX2 void tile_gemm(std::int64_t C, const float* u, const float* v, float* m, std::int64_t ld) {
  // Twelve named accumulators: GCC keeps these in registers; an array of them it spilled to the stack.
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
         a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
  for (std::int64_t c = 0; c < C; ++c, u += kBlock, v += kPanel) {
    const __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8);
    fma_row(u, v0, v1, a00, a01);
    fma_row(u + 1, v0, v1, a10, a11);
    fma_row(u + 2, v0, v1, a20, a21);
    fma_row(u + 3, v0, v1, a30, a31);
    fma_row(u + 4, v0, v1, a40, a41);
    fma_row(u + 5, v0, v1, a50, a51);
  }
  const __m256 out[kBlock][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}};
  for (int i = 0; i < kBlock; ++i) {
    _mm256_storeu_ps(m + i * ld, out[i][0]);
    _mm256_storeu_ps(m + i * ld + 8, out[i][1]);
  }
}

// A^T M's row r (by column, eight tiles) times A, plus the bias b: eight tiles' two outputs, stored
// in their order along the image's row.
FTDR_AVX2 inline void output_row(const __m256* r, __m256 b, float* out) {
  const __m256 left = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(r[0], r[1]), r[2]), b);
  const __m256 right = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(r[1], r[2]), r[3]), b);
  const __m256 lo = _mm256_unpacklo_ps(left, right), hi = _mm256_unpackhi_ps(left, right);
  _mm256_storeu_ps(out, _mm256_permute2f128_ps(lo, hi, 0x20));
  _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

// One output channel's tiles of a segment from their 16 products (m, position stride m_stride):
// A^T M A, plus the bias, written to output rows 2r and 2r + 1 (those within the image). Eight
// tiles at a time: their 2x2 outputs' columns are interleaved into two rows of 16.
FTDR_AVX2 void output_tiles(const float* m, std::int64_t m_stride, float bias, const Plan& p,
                            const Segment& s, float* rows, float* plane) {
  const std::int64_t n = s.count, len = round_up(n, 8);
  float* top = rows;
  float* bottom = rows + 2 * len;
  const __m256 b = _mm256_set1_ps(bias);
  for (std::int64_t j = 0; j < len; j += 8) {
    __m256 r0[4], r1[4];  // A^T M: rows m0 + m1 + m2 and m1 - m2 - m3, by column
    for (int c = 0; c < 4; ++c) {
      const __m256 q0 = _mm256_loadu_ps(m + c * m_stride + j),
                   q1 = _mm256_loadu_ps(m + (4 + c) * m_stride + j);
      const __m256 q2 = _mm256_loadu_ps(m + (8 + c) * m_stride + j),
                   q3 = _mm256_loadu_ps(m + (12 + c) * m_stride + j);
      r0[c] = _mm256_add_ps(_mm256_add_ps(q0, q1), q2);
      r1[c] = _mm256_sub_ps(_mm256_sub_ps(q1, q2), q3);
    }
    output_row(r0, b, top + 2 * j);
    output_row(r1, b, bottom + 2 * j);
  }
  const std::int64_t x = 2 * s.col, count = std::min(2 * n, p.W - x);
  std::memcpy(plane + 2 * s.row * p.W + x, top, count * sizeof(float));
  if (2 * s.row + 1 < p.H) std::memcpy(plane + (2 * s.row + 1) * p.W + x, bottom, count * sizeof(float));
}

// The band's input tiles, every channel, into V.
void transform_input(const float* image, const Plan& p, const std::vector<Segment>& segs, Scratch& s) {
  const std::int64_t panel_stride = p.C * kPanel;
  for (const Segment& seg : segs) {
    for (std::int64_t c = 0; c < p.C; ++c) {
      input_tiles(image + c * p.H * p.W, p, seg, s.rows.data(),
                  s.v.data() + seg.panel * panel_stride + c * kPanel, panel_stride, p.v_stride);
    }
  }
}

// M = U V at each of the 16 positions, for the band's panels.
void multiply(const float* u, const Plan& p, std::int64_t panels, Scratch& s) {
  const std::int64_t blocks = p.Kp / kBlock, panel_stride = p.C * kPanel;
  const std::int64_t group = std::max<std::int64_t>(1, kGroupBytes / 4 / (kBlock * p.C));
  for (std::int64_t pos = 0; pos < 16; ++pos) {
    const float* v = s.v.data() + pos * p.v_stride;
    for (std::int64_t kb0 = 0; kb0 < blocks; kb0 += group) {
      for (std::int64_t panel = 0; panel < panels; ++panel) {
        for (std::int64_t kb = kb0; kb < std::min(blocks, kb0 + group); ++kb) {
          tile_gemm(p.C, u + (pos * blocks + kb) * p.C * kBlock, v + panel * panel_stride,
                    s.m.data() + pos * p.m_stride + kb * kBlock * p.ld + panel * kPanel, p.ld);
        }
      }
    }
  }
}

// The band's outputs, every output channel, from M.
void transform_output(const float* bias, const Plan& p, const std::vector<Segment>& segs, Scratch& s,
                      float* out) {
  for (const Segment& seg : segs) {
    for (std::int64_t k = 0; k < p.K; ++k) {
      output_tiles(s.m.data() + k * p.ld + seg.panel * kPanel, p.m_stride, bias == nullptr ? 0.0f : bias[k],
                   p, seg, s.out.data(), out + k * p.H * p.W);
    }
  }
}

// Tiles [first, last) of the image, into out.
void convolve_band(const float* image, const float* u, const float* bias, const Plan& p, std::int64_t first,
                   std::int64_t last, Scratch& s, float* out) {
  const std::vector<Segment> segs = segments(p, first, last);
  transform_input(image, p, segs, s);
  multiply(u, p, segs.back().panel + (segs.back().count + kPanel - 1) / kPanel, s);
  transform_output(bias, p, segs, s, out);
}

bool usable(const at::Tensor& image, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
            const at::Tensor& out) {
  const auto plain = [](const at::Tensor& t, std::int64_t dims) {
    return t.defined() && t.dim() == dims && t.scalar_type() == at::kFloat && t.device().is_cpu() &&
           t.is_contiguous();
  };
  if (!plain(image, 4) || !plain(weight, 4) || !plain(out, 4) || image.size(0) != 1) return false;
  const std::int64_t K = weight.size(0), C = image.size(1);
  if (weight.size(1) != C || weight.size(2) != 3 || weight.size(3) != 3 || C == 0 || K == 0) return false;
  if (out.size(0) != 1 || out.size(1) != K || out.size(2) != image.size(2) || out.size(3) != image.size(3))
    return false;
  return !bias.has_value() || (plain(*bias, 1) && bias->size(0) == K);
}

#endif  // FTDR_HAVE_AVX2_MATH

}  // namespace

bool winograd_conv_available() {
#if FTDR_HAVE_AVX2_MATH
  return avx2::cpu_has_avx2_fma();
#else
  return false;
#endif
}

bool winograd_conv3x3(const at::Tensor& image, const at::Tensor& weight,
                      const c10::optional<at::Tensor>& bias, at::Tensor& out) {
#if FTDR_HAVE_AVX2_MATH
  if (!winograd_conv_available() || !usable(image, weight, bias, out)) return false;
  if (image.size(2) == 0 || image.size(3) == 0) return true;
  const Plan p = plan_for(image.size(1), weight.size(0), image.size(2), image.size(3));
  const std::vector<float> u = transform_weights(weight.data_ptr<float>(), p);
  const float* in = image.data_ptr<float>();
  const float* b = bias.has_value() ? bias->data_ptr<float>() : nullptr;
  float* y = out.data_ptr<float>();
  const std::int64_t bands = (p.tiles + p.band - 1) / p.band;
  at::parallel_for(0, bands, 1, [&](std::int64_t begin, std::int64_t end) {
    Scratch scratch(p);
    for (std::int64_t band = begin; band < end; ++band) {
      convolve_band(in, u.data(), b, p, band * p.band, std::min(p.tiles, (band + 1) * p.band), scratch, y);
    }
  });
  return true;
#else
  (void)image, (void)weight, (void)bias, (void)out;
  return false;
#endif
}

}  // namespace ftdr::torchbe
