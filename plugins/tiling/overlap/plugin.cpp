// plugin.cpp: the `overlap` tiling strategy's factory and declaration.
#include <memory>

#include "ftdr/sdk/plugin.hpp"
#include "overlap_tiling.hpp"

namespace {

// [tiling.overlap] (overlap_tiling.h).
std::unique_ptr<ftdr::sdk::TilingStrategy> make(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::plugins::OverlapTiling>(
      ftdr::plugins::read_overlap_settings(ctx.config.get()), ctx.logger);
}

}  // namespace

FTDR_DECLARE_PLUGIN(tiling, "overlap", "1.0.0",
                    "full-size overlapping VAE tiles with feathered blending, shrunk to fit the memory hint",
                    make)
