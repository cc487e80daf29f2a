// plugin.cpp: the `resident` memory policy's factory and export.
#include <memory>

#include "ftdr/sdk/plugin.hpp"
#include "resident_policy.h"

namespace {

const ftdr::sdk::PluginDescriptor& describe() {
  static const ftdr::sdk::PluginDescriptor d{
      FTDR_SDK_ABI_MAJOR, FTDR_SDK_ABI_MINOR, ftdr::sdk::PluginKind::memory_policy, "resident", "1.0.0",
      "every component stays on the device; slicing/tiling switched on when over budget"};
  return d;
}

std::unique_ptr<ftdr::sdk::Plugin> create(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::plugins::ResidentPolicy>(ftdr::plugins::read_budget_settings(ctx.config.get()),
                                                         ctx.logger);
}

}  // namespace

FTDR_PLUGIN_EXPORT(describe, create)
