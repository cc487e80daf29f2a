// ftdr/sdk/tiling.hpp: tiling strategies plan how the VAE decodes a large latent piece by piece.
//
// The host asks for a plan when a memory policy or a recovery strategy switches VAE tiling on, and
// passes it to ModelBackend::decode. The backend decodes each tile, multiplies the output by the
// tile's blend weights and divides the sum by the summed weights, so weights need not sum to one.
// Called from worker threads, one call at a time per plugin object.
//
//   TilePlan plan(const TileRequest& r) override {   // one tile covering everything
//     TilePlan p; p.scale = r.scale;
//     p.tiles.push_back({0, 0, r.latent_height, r.latent_width,
//                        std::vector<float>(r.latent_height * r.scale * r.latent_width * r.scale, 1.f)});
//     return p;
//   }
#pragma once
#include <cstdint>
#include <vector>

#include "ftdr/sdk/plugin.hpp"

namespace ftdr::sdk {

struct TileRequest {
  int latent_height = 0, latent_width = 0;
  int scale = 8;                        // output pixels per latent pixel (the VAE's factor)
  std::uint64_t memory_hint_bytes = 0;  // device bytes the decode may use; 0 = unknown
};

struct Tile {
  int y = 0, x = 0, height = 0, width = 0;  // in latent pixels
  // Blend weight for every output pixel of this tile, (height*scale) x (width*scale), row-major.
  std::vector<float> weight;
};

struct TilePlan {
  int scale = 8;
  int tile_size = 0;  // latent pixels, for the record
  int overlap = 0;    // latent pixels, for the record
  std::vector<Tile> tiles;
};

class FTDR_SDK_INTERFACE TilingStrategy : public Plugin {
 public:
  // Required. Tiles must cover every latent pixel; each tile lies inside the latent.
  virtual TilePlan plan(const TileRequest& request) = 0;
};

template <>
struct plugin_interface<PluginKind::tiling> {
  using type = TilingStrategy;
};

}  // namespace ftdr::sdk
