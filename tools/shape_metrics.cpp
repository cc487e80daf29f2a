// tools/shape_metrics.cpp: background/colour/shape read-back for the demo-model evaluation.
#include "shape_metrics.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>

namespace ftdr::demo {

namespace {

// A pixel belongs to the foreground when it is at least this far (RGB Euclidean) from the
// background: half the smallest distance between two palette colours is ~70.
constexpr int kForegroundDistance = 60;

int distance2(const std::uint8_t* a, const std::array<int, 3>& b) {
  int d = 0;
  for (int c = 0; c < 3; ++c) d += (a[c] - b[c]) * (a[c] - b[c]);
  return d;
}

std::array<int, 3> border_median(const std::vector<std::uint8_t>& rgb, int w, int h) {
  std::array<std::vector<int>, 3> channels;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (x > 1 && x < w - 2 && y > 1 && y < h - 2) continue;  // two-pixel ring only
      for (int c = 0; c < 3; ++c) channels[c].push_back(rgb[(y * w + x) * 3 + c]);
    }
  std::array<int, 3> out{};
  for (int c = 0; c < 3; ++c) {
    auto& v = channels[c];
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    out[c] = v[v.size() / 2];
  }
  return out;
}

// Largest 4-connected component of `mask`; returns its pixel indices.
std::vector<int> largest_region(const std::vector<char>& mask, int w, int h) {
  std::vector<int> label(mask.size(), -1), best, stack;
  int next = 0;
  for (int start = 0; start < w * h; ++start) {
    if (!mask[start] || label[start] >= 0) continue;
    std::vector<int> region;
    stack.assign(1, start);
    label[start] = next;
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      region.push_back(p);
      const int x = p % w, y = p / w;
      const int neighbours[4][2] = {{x - 1, y}, {x + 1, y}, {x, y - 1}, {x, y + 1}};
      for (const auto& n : neighbours) {
        if (n[0] < 0 || n[0] >= w || n[1] < 0 || n[1] >= h) continue;
        const int q = n[1] * w + n[0];
        if (mask[q] && label[q] < 0) {
          label[q] = next;
          stack.push_back(q);
        }
      }
    }
    ++next;
    if (region.size() > best.size()) best = std::move(region);
  }
  return best;
}

Position classify_position(double cx, double cy, int w, int h) {
  const double dx = cx - w / 2.0, dy = cy - h / 2.0;
  if (std::abs(dx) < 6 && std::abs(dy) < 6) return Position::centre;
  if (std::abs(dx) >= std::abs(dy)) return dx < 0 ? Position::left : Position::right;
  return dy < 0 ? Position::top : Position::bottom;
}

}  // namespace

int nearest_palette_colour(const std::uint8_t* px, int skip) {
  const auto& p = palette();
  int best = -1, best_d = 0;
  for (int i = 0; i < static_cast<int>(p.size()); ++i) {
    if (i == skip) continue;
    const int d = distance2(px, {p[i].rgb[0], p[i].rgb[1], p[i].rgb[2]});
    if (best < 0 || d < best_d) best = i, best_d = d;
  }
  return best;
}

Shape classify_fill_ratio(double fill_ratio) {
  // Ideal ratios: triangle 0.5, circle 0.785, square 1.0.
  if (fill_ratio < 0.64) return Shape::triangle;
  if (fill_ratio < 0.89) return Shape::circle;
  return Shape::square;
}

SceneAnalysis analyse(const std::vector<std::uint8_t>& rgb, int w, int h) {
  SceneAnalysis a;
  const std::array<int, 3> bg = border_median(rgb, w, h);
  const std::uint8_t bg_px[3] = {static_cast<std::uint8_t>(bg[0]), static_cast<std::uint8_t>(bg[1]),
                                 static_cast<std::uint8_t>(bg[2])};
  a.background = nearest_palette_colour(bg_px);

  std::vector<char> mask(static_cast<std::size_t>(w) * h, 0);
  for (int i = 0; i < w * h; ++i)
    mask[i] = distance2(&rgb[i * 3], bg) >= kForegroundDistance * kForegroundDistance;
  const std::vector<int> region = largest_region(mask, w, h);
  a.foreground_pixels = static_cast<int>(region.size());
  if (region.size() < 12) return a;  // nothing that could be a shape

  std::vector<int> votes(palette().size(), 0);
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int p : region) {
    ++votes[nearest_palette_colour(&rgb[p * 3], a.background)];
    const int x = p % w, y = p / w;
    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  a.colour = static_cast<int>(std::max_element(votes.begin(), votes.end()) - votes.begin());
  a.bbox_x0 = x0, a.bbox_y0 = y0, a.bbox_x1 = x1, a.bbox_y1 = y1;
  const double box = static_cast<double>(x1 - x0 + 1) * (y1 - y0 + 1);
  a.fill_ratio = region.size() / box;
  a.shape = classify_fill_ratio(a.fill_ratio);
  a.size = std::max(x1 - x0 + 1, y1 - y0 + 1) >= 24 ? Size::large : Size::small;
  // Position from the bounding-box centre: a triangle's centroid sits low.
  a.position = classify_position((x0 + x1 + 1) / 2.0, (y0 + y1 + 1) / 2.0, w, h);
  return a;
}

MatchResult match(const SceneAnalysis& a, const SceneSpec& e) {
  MatchResult m;
  m.colour = a.colour == e.colour;
  m.background = a.background == e.background;
  m.shape = a.shape && *a.shape == e.shape;
  m.size = a.size && *a.size == e.size;
  m.position = a.position && *a.position == e.position;
  return m;
}

}  // namespace ftdr::demo
