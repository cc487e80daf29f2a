// sequential_policy.h: the `sequential` memory policy, for the smallest devices.
//
// Before every phase only the components that phase runs are on the device ({"text_encoder"} for
// encoding, {"unet"} for diffusion, {"vae"} for decoding); every other component is moved to the CPU
// first and the device cache is emptied, so the phase has the most memory the device can give.
// Then, when the phase's weights plus its activation estimate exceed the budget, attention slicing
// (diffusion) or VAE tiling (decoding) is switched on before the phase runs (memory_budget.h).
//
// Config ([memory.sequential]): headroom_mb, auto_slicing, auto_tiling (see memory_budget.h).
#pragma once
#include <memory>

#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/memory_policy.hpp"
#include "memory_budget.hpp"

namespace ftdr::plugins {

class SequentialPolicy final : public sdk::MemoryPolicy {
 public:
  explicit SequentialPolicy(BudgetSettings settings, std::shared_ptr<sdk::Logger> logger = nullptr);

  sdk::Placement place(const sdk::PlacementRequest& request) override;

 private:
  BudgetSettings settings_;
  std::shared_ptr<sdk::Logger> logger_;
};

}  // namespace ftdr::plugins
