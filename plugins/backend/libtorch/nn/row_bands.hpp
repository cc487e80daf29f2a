// nn/row_bands.hpp: the bands of output rows a convolution is computed in (nn/cpu_conv.cpp,
// nn/onednn_conv.cpp), and the input rows each reads.
//
//   for (const RowBand& b : row_bands(out_h, 63, 1, 3, height)) { /* output rows [b.first, b.last) */ }
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace ftdr::torchbe {

// Output rows [first, last) read input rows [from, to), with top zero rows above them and bottom
// zero rows below (the padding, where the band touches the image's edge).
struct RowBand {
  std::int64_t first, last;
  std::int64_t from, to;
  std::int64_t top, bottom;
};

// out_h output rows, rows at a time (the last band holds the rest), of a stride-1 convolution with
// kernel_h rows and pad_h zero rows each side of an input height rows high.
inline std::vector<RowBand> row_bands(std::int64_t out_h, std::int64_t rows, std::int64_t pad_h,
                                      std::int64_t kernel_h, std::int64_t height) {
  std::vector<RowBand> bands;
  for (std::int64_t first = 0; first < out_h; first += rows) {
    const std::int64_t last = std::min(out_h, first + rows);
    const std::int64_t from = first - pad_h, to = last - 1 - pad_h + kernel_h;
    bands.push_back({first, last, std::max<std::int64_t>(from, 0), std::min(to, height),
                     std::max<std::int64_t>(0, -from), std::max<std::int64_t>(0, to - height)});
  }
  return bands;
}

}  // namespace ftdr::torchbe
