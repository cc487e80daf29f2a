// plugin.cpp: the `adaptive` memory policy's factory and export.
#include <memory>

#include "adaptive_policy.h"
#include "ftdr/sdk/plugin.hpp"

namespace {

const ftdr::sdk::PluginDescriptor& describe() {
  static const ftdr::sdk::PluginDescriptor d{
      FTDR_SDK_ABI_MAJOR, FTDR_SDK_ABI_MINOR, ftdr::sdk::PluginKind::memory_policy, "adaptive", "1.0.0",
      "keeps what fits the budget on the device, evicts (largest or LRU) only when over budget"};
  return d;
}

std::unique_ptr<ftdr::sdk::Plugin> create(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::plugins::AdaptivePolicy>(ftdr::plugins::read_adaptive_settings(ctx.config.get()),
                                                         ctx.logger);
}

}  // namespace

FTDR_PLUGIN_EXPORT(describe, create)
