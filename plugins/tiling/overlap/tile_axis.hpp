// tile_axis.h: tiling along one axis: where tiles start and how each one is weighted.
//
// Tiles along an axis of `length` latent pixels are `tile` pixels long (or one tile of `length`
// when length <= tile). Their count is the smallest n whose tiles, overlapping by at least
// `overlap`, cover the axis: n * tile - (n - 1) * overlap >= length. The first starts at 0, the last
// ends at `length`, and the starts in between are spread evenly (rounded), so every tile has full
// size, lies inside, and every two neighbours overlap by at least `overlap` (no lone last tile
// shifted back over its neighbour: the slack is shared by all overlaps).
//
// Weights, per output pixel (`scale` per latent pixel): a linear ramp across each overlap with a
// neighbour, rising from the tile's interior edge (a tile edge on the image border gets no ramp,
// weight 1), times the ramp of the other edge. Over an overlap shared by two tiles, the two ramps
// sum to exactly 1 at every pixel ((p + 0.5) / m and (m - p - 0.5) / m); every weight is > 0.
#pragma once
#include <vector>

namespace ftdr::plugins {

// Start of every tile along the axis; requires length >= 1, tile >= 1, 0 <= overlap < tile.
std::vector<int> tile_starts(int length, int tile, int overlap);

// The blend weights of tile `index` along the axis, one per output pixel:
// min(tile, length) * scale values.
std::vector<float> axis_weights(const std::vector<int>& starts, int index, int tile, int length, int scale);

}  // namespace ftdr::plugins
