// resident_policy.h: the `resident` memory policy, for devices that hold the whole model.
//
// Every component goes to the device and stays there (nothing moves to the CPU, the cache is not
// emptied), so no phase pays for transfers. When all weights plus the phase's activation estimate
// exceed the budget, attention slicing (diffusion) or VAE tiling (decoding) is switched on before the
// phase runs (memory_budget.h); when the weights alone exceed it, the reason says so: this policy
// never offloads, choose `adaptive` or `sequential` for such a device.
//
// Config ([memory.resident]): headroom_mb, auto_slicing, auto_tiling (see memory_budget.h).
#pragma once
#include <memory>

#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/memory_policy.hpp"
#include "memory_budget.hpp"

namespace ftdr::plugins {

class ResidentPolicy final : public sdk::MemoryPolicy {
 public:
  explicit ResidentPolicy(BudgetSettings settings, std::shared_ptr<sdk::Logger> logger = nullptr);

  sdk::Placement place(const sdk::PlacementRequest& request) override;

 private:
  BudgetSettings settings_;
  std::shared_ptr<sdk::Logger> logger_;
};

}  // namespace ftdr::plugins
