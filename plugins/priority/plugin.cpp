// plugin.cpp: the `priority` scheduler's factory and export.
#include <memory>

#include "ftdr/sdk/plugin.hpp"
#include "priority_scheduler.h"

namespace {

const ftdr::sdk::PluginDescriptor& describe() {
  static const ftdr::sdk::PluginDescriptor d{
      FTDR_SDK_ABI_MAJOR, FTDR_SDK_ABI_MINOR, ftdr::sdk::PluginKind::scheduler, "priority", "1.0.0",
      "urgent > high > normal > low, first in first out inside a level, optional aging (aging_ms)"};
  return d;
}

std::unique_ptr<ftdr::sdk::Plugin> create(const ftdr::sdk::PluginContext& ctx) {
  const std::int64_t aging = ctx.config ? ftdr::plugins::PriorityScheduler::read_aging_ms(*ctx.config) : 0;
  return std::make_unique<ftdr::plugins::PriorityScheduler>(aging);
}

}  // namespace

FTDR_PLUGIN_EXPORT(describe, create)
