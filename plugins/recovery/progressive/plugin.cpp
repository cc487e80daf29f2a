// plugin.cpp: the `progressive` recovery strategy's factory and declaration.
#include <memory>

#include "ftdr/sdk/plugin.hpp"
#include "progressive_recovery.hpp"

namespace {

// [recovery.progressive] (progressive_settings.h).
std::unique_ptr<ftdr::sdk::RecoveryStrategy> make(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::plugins::ProgressiveRecovery>(
      ftdr::plugins::read_progressive_settings(ctx.config.get()), ctx.logger);
}

}  // namespace

FTDR_DECLARE_PLUGIN(
    recovery, "progressive", "1.0.0",
    "phase-aware degradation ladder (slicing, split batch, lower resolution, VAE tiling) with backoff", make)
