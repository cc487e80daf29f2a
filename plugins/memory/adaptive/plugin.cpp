// plugin.cpp: the `adaptive` memory policy's factory and declaration.
#include <memory>

#include "adaptive_policy.hpp"
#include "ftdr/sdk/plugin.hpp"

namespace {

// [memory.adaptive] (adaptive_policy.h).
std::unique_ptr<ftdr::sdk::MemoryPolicy> make(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::plugins::AdaptivePolicy>(
      ftdr::plugins::read_adaptive_settings(ctx.config.get()), ctx.logger);
}

}  // namespace

FTDR_DECLARE_PLUGIN(memory_policy, "adaptive", "1.0.0",
                    "keeps what fits the budget on the device, evicts (largest or LRU) only when over budget",
                    make)
