// overlap_tiling.cpp: see overlap_tiling.h.
#include "overlap_tiling.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "ftdr/sdk/error.hpp"
#include "tile_axis.hpp"

namespace ftdr::plugins {
namespace {

int read_int(const sdk::ConfigView& cfg, const std::string& key, int fallback, int min, int max,
             const std::string& expected) {
  const std::int64_t v = cfg.get_int(key, fallback);
  if (v < min || v > max) cfg.reject(key, expected);
  return static_cast<int>(v);
}

void require_positive(int value, const char* field) {
  if (value < 1)
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     std::string("tile request: ") + field + ": expected >= 1, got " + std::to_string(value));
}

}  // namespace

OverlapSettings read_overlap_settings(const sdk::ConfigView* config) {
  OverlapSettings s;
  if (config == nullptr) return s;
  const auto& cfg = *config;
  constexpr int kMax = 1 << 16;
  s.tile_size = read_int(cfg, "tile_size", s.tile_size, 8, kMax, "latent pixels >= 8");
  s.overlap = read_int(cfg, "overlap", s.overlap, 0, s.tile_size / 2,
                       "latent pixels from 0 to tile_size / 2 (" + std::to_string(s.tile_size / 2) + ")");
  s.min_tile_size = read_int(cfg, "min_tile_size", std::min(s.min_tile_size, s.tile_size), 8, s.tile_size,
                             "latent pixels from 8 to tile_size (" + std::to_string(s.tile_size) + ")");
  s.bytes_per_pixel = static_cast<std::uint64_t>(
      read_int(cfg, "bytes_per_pixel", 2048, 1, 1 << 30, "bytes per output pixel >= 1"));
  return s;
}

std::uint64_t decode_estimate_bytes(const OverlapSettings& s, int h, int w, int scale) {
  const std::uint64_t out_pixels =
      static_cast<std::uint64_t>(h) * scale * static_cast<std::uint64_t>(w) * scale;
  const std::uint64_t tokens = static_cast<std::uint64_t>(h) * static_cast<std::uint64_t>(w);
  return s.bytes_per_pixel * out_pixels + 4 * tokens * tokens;
}

OverlapTiling::OverlapTiling(OverlapSettings settings, std::shared_ptr<sdk::Logger> logger)
    : settings_(settings), logger_(std::move(logger)) {}

int OverlapTiling::tile_size_for(const sdk::TileRequest& r) const {
  int tile = settings_.tile_size;
  if (r.memory_hint_bytes == 0) return tile;
  auto fits = [&](int t) {
    return decode_estimate_bytes(settings_, std::min(t, r.latent_height), std::min(t, r.latent_width),
                                 r.scale) <= r.memory_hint_bytes;
  };
  while (tile > settings_.min_tile_size && !fits(tile))
    tile = std::max(settings_.min_tile_size, (tile - 1) / 8 * 8);
  return tile;
}

sdk::TilePlan OverlapTiling::plan(const sdk::TileRequest& r) {
  require_positive(r.latent_height, "latent_height");
  require_positive(r.latent_width, "latent_width");
  require_positive(r.scale, "scale");
  sdk::TilePlan plan;
  plan.scale = r.scale;
  plan.tile_size = tile_size_for(r);
  plan.overlap = settings_.overlap * plan.tile_size / settings_.tile_size;
  const auto ys = tile_starts(r.latent_height, plan.tile_size, plan.overlap);
  const auto xs = tile_starts(r.latent_width, plan.tile_size, plan.overlap);
  for (int iy = 0; iy < static_cast<int>(ys.size()); ++iy) {
    const auto wy = axis_weights(ys, iy, plan.tile_size, r.latent_height, r.scale);
    for (int ix = 0; ix < static_cast<int>(xs.size()); ++ix) {
      const auto wx = axis_weights(xs, ix, plan.tile_size, r.latent_width, r.scale);
      sdk::Tile t;
      t.y = ys[iy];
      t.x = xs[ix];
      t.height = std::min(plan.tile_size, r.latent_height);
      t.width = std::min(plan.tile_size, r.latent_width);
      t.weight.resize(wy.size() * wx.size());
      for (std::size_t y = 0; y < wy.size(); ++y)
        for (std::size_t x = 0; x < wx.size(); ++x) t.weight[y * wx.size() + x] = wy[y] * wx[x];
      plan.tiles.push_back(std::move(t));
    }
  }
  if (logger_ && logger_->enabled(sdk::LogLevel::debug))
    logger_->debug("overlap: " + std::to_string(plan.tiles.size()) + " tiles of " +
                   std::to_string(plan.tile_size) + " latent px, overlap >= " + std::to_string(plan.overlap) +
                   ", for " + std::to_string(r.latent_height) + "x" + std::to_string(r.latent_width));
  return plan;
}

}  // namespace ftdr::plugins
