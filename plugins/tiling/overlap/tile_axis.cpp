// tile_axis.cpp: see tile_axis.h.
#include "tile_axis.hpp"

#include <algorithm>

namespace ftdr::plugins {

std::vector<int> tile_starts(int length, int tile, int overlap) {
  if (length <= tile) return {0};
  const int stride = tile - overlap;
  const int n = 1 + (length - tile + stride - 1) / stride;  // smallest n covering the axis
  const long long slack = length - tile;                    // spread over n - 1 gaps
  std::vector<int> starts(n);
  for (int i = 0; i < n; ++i) starts[i] = static_cast<int>((i * slack * 2 + (n - 1)) / (2 * (n - 1)));
  return starts;
}

std::vector<float> axis_weights(const std::vector<int>& starts, int index, int tile, int length, int scale) {
  const int size = std::min(tile, length);
  const int pixels = size * scale;
  std::vector<float> w(static_cast<std::size_t>(pixels), 1.0f);
  const int start = starts[index];
  if (index > 0) {  // rising ramp over the overlap with the previous tile
    const int m = (starts[index - 1] + size - start) * scale;
    for (int p = 0; p < std::min(m, pixels); ++p)
      w[p] *= (static_cast<float>(p) + 0.5f) / static_cast<float>(m);
  }
  if (index + 1 < static_cast<int>(starts.size())) {  // falling ramp over the overlap with the next
    const int m = (start + size - starts[index + 1]) * scale;
    for (int q = 0; q < std::min(m, pixels); ++q)
      w[pixels - 1 - q] *= (static_cast<float>(q) + 0.5f) / static_cast<float>(m);
  }
  return w;
}

}  // namespace ftdr::plugins
