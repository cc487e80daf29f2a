// plugins/backend/libtorch/tests/seam_metrics.hpp: how visible the seams of a tiled VAE decode are, measured
// against the untiled decode of the same latents. Shared by
// plugins/backend/libtorch/tests/tiled_decode_seams_test.cpp and bench/tiling_seams_bench.cpp.
//
//   SeamReport r = measure_seams(tiled_image, whole_image, plan);
//   r.mean_abs_diff            mean |tiled - whole| over every pixel and channel, 0..255 units
//   r.max_abs_diff             the largest one
//   r.seam_gradient            mean |I(y, x) - I(y, x-1)| over the columns x where a tile starts or
//                              ends inside the image (x = tile.x * scale, (tile.x + tile.width) *
//                              scale), and the same vertically for rows; in the tiled image
//   r.interior_gradient        the same mean over every other column / row pair
//   r.gradient_ratio           seam / interior (1 = the seams are as smooth as the rest)
//   r.whole_gradient_ratio     that ratio on the untiled image at the same places: what the content
//                              alone gives (a seam line that happens to cross an edge of the picture)
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "ftdr/sdk/tiling.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::test {

struct SeamReport {
  double mean_abs_diff = 0, max_abs_diff = 0;
  double seam_gradient = 0, interior_gradient = 0, gradient_ratio = 0;
  double whole_gradient_ratio = 0;
  int seam_columns = 0, seam_rows = 0;
};

namespace seams_detail {

// Output coordinates where a tile edge lies strictly inside the image along one axis.
inline std::set<int> edges(const sdk::TilePlan& plan, bool columns, int limit) {
  std::set<int> out;
  for (const auto& t : plan.tiles) {
    const int a = (columns ? t.x : t.y) * plan.scale;
    const int b = (columns ? t.x + t.width : t.y + t.height) * plan.scale;
    if (a > 0 && a < limit) out.insert(a);
    if (b > 0 && b < limit) out.insert(b);
  }
  return out;
}

inline int px(const sdk::Image& img, int y, int x, int c) {
  return img.rgb[(static_cast<std::size_t>(y) * img.width + x) * 3 + c];
}

// {seam mean, interior mean} of neighbour differences across the given columns and rows.
inline std::pair<double, double> gradients(const sdk::Image& img, const std::set<int>& cols,
                                           const std::set<int>& rows) {
  double seam = 0, interior = 0;
  std::uint64_t ns = 0, ni = 0;
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        if (x > 0) {
          const double d = std::abs(px(img, y, x, c) - px(img, y, x - 1, c));
          (cols.count(x) ? seam : interior) += d;
          ++(cols.count(x) ? ns : ni);
        }
        if (y > 0) {
          const double d = std::abs(px(img, y, x, c) - px(img, y - 1, x, c));
          (rows.count(y) ? seam : interior) += d;
          ++(rows.count(y) ? ns : ni);
        }
      }
    }
  }
  return {ns ? seam / static_cast<double>(ns) : 0.0, ni ? interior / static_cast<double>(ni) : 0.0};
}

}  // namespace seams_detail

inline SeamReport measure_seams(const sdk::Image& tiled, const sdk::Image& whole, const sdk::TilePlan& plan) {
  if (tiled.width != whole.width || tiled.height != whole.height || tiled.rgb.size() != whole.rgb.size()) {
    throw std::invalid_argument("measure_seams: the two images differ in size");
  }
  SeamReport r;
  double sum = 0;
  for (std::size_t i = 0; i < tiled.rgb.size(); ++i) {
    const double d = std::abs(int(tiled.rgb[i]) - int(whole.rgb[i]));
    sum += d;
    r.max_abs_diff = std::max(r.max_abs_diff, d);
  }
  r.mean_abs_diff = tiled.rgb.empty() ? 0 : sum / static_cast<double>(tiled.rgb.size());
  const auto cols = seams_detail::edges(plan, true, tiled.width);
  const auto rows = seams_detail::edges(plan, false, tiled.height);
  r.seam_columns = static_cast<int>(cols.size());
  r.seam_rows = static_cast<int>(rows.size());
  const auto [seam, interior] = seams_detail::gradients(tiled, cols, rows);
  r.seam_gradient = seam;
  r.interior_gradient = interior;
  r.gradient_ratio = interior > 0 ? seam / interior : 0;
  const auto [wseam, winterior] = seams_detail::gradients(whole, cols, rows);
  r.whole_gradient_ratio = winterior > 0 ? wseam / winterior : 0;
  return r;
}

}  // namespace ftdr::test
