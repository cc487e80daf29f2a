// plugin.cpp: the `progressive` recovery strategy's factory and export.
#include <memory>

#include "ftdr/sdk/plugin.hpp"
#include "progressive_recovery.h"

namespace {

const ftdr::sdk::PluginDescriptor& describe() {
  static const ftdr::sdk::PluginDescriptor d{
      FTDR_SDK_ABI_MAJOR, FTDR_SDK_ABI_MINOR, ftdr::sdk::PluginKind::recovery, "progressive", "1.0.0",
      "phase-aware degradation ladder (slicing, split batch, lower resolution, VAE tiling) with backoff"};
  return d;
}

std::unique_ptr<ftdr::sdk::Plugin> create(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::plugins::ProgressiveRecovery>(
      ftdr::plugins::read_progressive_settings(ctx.config.get()), ctx.logger);
}

}  // namespace

FTDR_PLUGIN_EXPORT(describe, create)
