// adaptive_policy.h: the `adaptive` memory policy: keep on the device as much as fits the budget.
//
// Rule, before each phase:
//   1. The phase's components go to the device (they must be there to run).
//   2. Components the phase does not need stay where they are while everything fits: when they are
//      already on the device they are kept, so the next phase that needs them pays no transfer.
//   3. Only when needed weights + kept weights + the activation estimate exceed the budget, kept
//      components are evicted to the CPU one by one, in eviction order, until it fits (or none are
//      left). Order `largest` (default): biggest first, so the fewest transfers free the most; order
//      `lru`: the component needed longest ago first (never needed by this policy = oldest), ties
//      broken by size, then name.
//   4. If the phase alone (needed weights + estimate) is still over budget, attention slicing or VAE
//      tiling is switched on before it runs (memory_budget.h).
// Evicting comes before slicing/tiling because a transfer costs once while slicing slows every
// step. Components never go to the device unless a phase needs them (no prefetching). The device
// cache is emptied only when something was evicted.
//
// Config ([memory.adaptive]): eviction = "largest" | "lru" (default "largest"), plus headroom_mb,
// auto_slicing, auto_tiling (see memory_budget.h).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "ftdr/sdk/config_view.hpp"
#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/memory_policy.hpp"
#include "memory_budget.hpp"

namespace ftdr::plugins {

enum class Eviction { largest, lru };

struct AdaptiveSettings {
  BudgetSettings budget;
  Eviction eviction = Eviction::largest;
};

// Reads `eviction` and the shared keys; a null view gives the defaults.
AdaptiveSettings read_adaptive_settings(const sdk::ConfigView* config);

// Called one at a time per object (memory_policy.hpp), so the use clock needs no lock.
class AdaptivePolicy final : public sdk::MemoryPolicy {
 public:
  explicit AdaptivePolicy(AdaptiveSettings settings, std::shared_ptr<sdk::Logger> logger = nullptr);

  sdk::Placement place(const sdk::PlacementRequest& request) override;

 private:
  std::vector<sdk::ComponentInfo> eviction_order(std::vector<sdk::ComponentInfo> kept) const;

  AdaptiveSettings settings_;
  std::shared_ptr<sdk::Logger> logger_;
  std::uint64_t clock_ = 0;                         // place() calls so far
  std::map<std::string, std::uint64_t> last_used_;  // component -> clock_ when last needed
};

}  // namespace ftdr::plugins
