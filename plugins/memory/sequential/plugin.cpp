// plugin.cpp: the `sequential` memory policy's factory and declaration.
#include <memory>

#include "ftdr/sdk/plugin.hpp"
#include "sequential_policy.hpp"

namespace {

// [memory.sequential]: the shared budget keys (memory_common/memory_budget.h).
std::unique_ptr<ftdr::sdk::MemoryPolicy> make(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::plugins::SequentialPolicy>(
      ftdr::plugins::read_budget_settings(ctx.config.get()), ctx.logger);
}

}  // namespace

FTDR_DECLARE_PLUGIN(
    memory_policy, "sequential", "1.0.0",
    "only the running phase's components on the device; slicing/tiling switched on when over budget", make)
