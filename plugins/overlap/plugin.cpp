// plugin.cpp: the `overlap` tiling strategy's factory and export.
#include <memory>

#include "ftdr/sdk/plugin.hpp"
#include "overlap_tiling.h"

namespace {

const ftdr::sdk::PluginDescriptor& describe() {
  static const ftdr::sdk::PluginDescriptor d{
      FTDR_SDK_ABI_MAJOR, FTDR_SDK_ABI_MINOR, ftdr::sdk::PluginKind::tiling, "overlap", "1.0.0",
      "full-size overlapping VAE tiles with feathered blending, shrunk to fit the memory hint"};
  return d;
}

std::unique_ptr<ftdr::sdk::Plugin> create(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::plugins::OverlapTiling>(ftdr::plugins::read_overlap_settings(ctx.config.get()),
                                                        ctx.logger);
}

}  // namespace

FTDR_PLUGIN_EXPORT(describe, create)
