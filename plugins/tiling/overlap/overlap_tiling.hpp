// overlap_tiling.h: the `overlap` tiling strategy: full-size overlapping tiles, feathered blending.
//
// plan() covers the latent with tiles of tile_size x tile_size latent pixels laid out per axis as
// tile_axis.h describes (clipped to the latent where it is smaller than a tile: one tile then),
// row by row. Each tile's weight at output pixel (y, x) is wy(y) * wx(x), the axis ramps of
// tile_axis.h, at output resolution (scale pixels per latent pixel): 1 inside and on the image
// border, a linear ramp across every overlap with a neighbour, > 0 everywhere.
//
// Memory hint: when TileRequest::memory_hint_bytes > 0, tile_size shrinks (to multiples of 8, not
// below min_tile_size) until one tile's decode estimate fits the hint:
//   decode_estimate(h, w) = bytes_per_pixel * (h * scale) * (w * scale)   full-resolution activations
//                         + 4 * (h * w)^2                                  f32 scores of the VAE
//                                                                         mid-block self-attention
// for an h x w latent tile. The overlap shrinks in proportion (overlap * new / configured, floored).
// If even min_tile_size does not fit, min_tile_size is used (the best this strategy can do).
//
// Config ([tiling.overlap]):
//   tile_size        int >= 8 [32]        latent pixels per tile side (32 = 256 output pixels at scale 8)
//   overlap          int, 0..tile_size/2 [8]  minimum overlap between neighbours, latent pixels
//   min_tile_size    int, 8..tile_size [16]   smallest tile the memory hint may shrink to
//   bytes_per_pixel  int >= 1 [2048]      decode bytes per output pixel (128 channels x f32 x 4 live
//                                         tensors in the VAE's last up-block; halve for f16)
#pragma once
#include <cstdint>
#include <memory>

#include "ftdr/sdk/config_view.hpp"
#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/tiling.hpp"

namespace ftdr::plugins {

struct OverlapSettings {
  int tile_size = 32;
  int overlap = 8;
  int min_tile_size = 16;
  std::uint64_t bytes_per_pixel = 2048;
};

// Reads and checks the keys above; a null view gives the defaults.
OverlapSettings read_overlap_settings(const sdk::ConfigView* config);

// The decode estimate above, in bytes, for an h x w latent tile.
std::uint64_t decode_estimate_bytes(const OverlapSettings& s, int h, int w, int scale);

class OverlapTiling final : public sdk::TilingStrategy {
 public:
  explicit OverlapTiling(OverlapSettings settings, std::shared_ptr<sdk::Logger> logger = nullptr);

  // Throws Error(invalid_request) naming the field when a latent side or the scale is < 1.
  sdk::TilePlan plan(const sdk::TileRequest& request) override;

  // The tile side plan() uses for this request (after the memory hint).
  int tile_size_for(const sdk::TileRequest& request) const;

 private:
  OverlapSettings settings_;
  std::shared_ptr<sdk::Logger> logger_;
};

}  // namespace ftdr::plugins
