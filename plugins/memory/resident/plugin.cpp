// plugin.cpp: the `resident` memory policy's factory and declaration.
#include <memory>

#include "ftdr/sdk/plugin.hpp"
#include "resident_policy.hpp"

namespace {

// [memory.resident]: the shared budget keys (memory_common/memory_budget.h).
std::unique_ptr<ftdr::sdk::MemoryPolicy> make(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::plugins::ResidentPolicy>(
      ftdr::plugins::read_budget_settings(ctx.config.get()), ctx.logger);
}

}  // namespace

FTDR_DECLARE_PLUGIN(memory_policy, "resident", "1.0.0",
                    "every component stays on the device; slicing/tiling switched on when over budget", make)
