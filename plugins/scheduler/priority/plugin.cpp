// plugin.cpp: the `priority` scheduler's factory and declaration.
#include <cstdint>
#include <memory>

#include "ftdr/sdk/plugin.hpp"
#include "priority_scheduler.hpp"

namespace {

// [scheduler.priority] aging_ms (priority_scheduler.h).
std::unique_ptr<ftdr::sdk::JobScheduler> make(const ftdr::sdk::PluginContext& ctx) {
  const std::int64_t aging = ctx.config ? ftdr::plugins::PriorityScheduler::read_aging_ms(*ctx.config) : 0;
  return std::make_unique<ftdr::plugins::PriorityScheduler>(aging);
}

}  // namespace

FTDR_DECLARE_PLUGIN(
    scheduler, "priority", "1.0.0",
    "urgent > high > normal > low, first in first out inside a level, optional aging (aging_ms)", make)
