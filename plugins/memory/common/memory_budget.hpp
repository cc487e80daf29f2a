// memory_budget.h: the budget arithmetic shared by the memory policies (sequential, resident,
// adaptive).
//
// Every policy decides a set of components that will be on the device while the phase runs (its
// "resident set"), then asks apply_memory_saving() whether that set plus the phase's activation
// estimate fits the budget; when it does not, memory-saving options are switched on BEFORE the phase
// runs instead of waiting for an out-of-memory error:
//   diffusion  attention slicing (attention = sliced; attention_slice_size is left as it is)
//   decoding   VAE tiling (the host then asks the tiling strategy for a plan)
//   encoding   nothing to switch on; the reason says so
//
// The budget (effective_budget):
//   budget_bytes > 0   that many bytes ([memory] device_budget_mb), minus headroom;
//   budget_bytes == 0  the device's free memory, plus what the caching allocator holds unused
//                      (reserved - allocated: PyTorch reuses it without asking the driver), plus the
//                      bytes of the components already on the device (they are counted again in the
//                      resident set's weights, or leave the device before the phase runs), minus
//                      headroom;
//   no memory reported (total and free both 0, budget 0): unknown; nothing is switched on.
//
// Keys every memory policy reads from its own table ([memory.<name>]):
//   headroom_mb   int >= 0, default 0: bytes kept free below the budget (estimate error, fragments)
//   auto_slicing  bool, default true: switch attention slicing on when diffusion would not fit
//   auto_tiling   bool, default true: switch VAE tiling on when decoding would not fit
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ftdr/sdk/config_view.hpp"
#include "ftdr/sdk/memory_policy.hpp"

namespace ftdr::plugins {

inline constexpr std::uint64_t kMiB = 1024ull * 1024ull;

struct BudgetSettings {
  std::uint64_t headroom_bytes = 0;
  bool auto_slicing = true;
  bool auto_tiling = true;
};

// Reads the keys above; a null view gives the defaults. Throws Error(invalid_request) via
// ConfigView::reject for a negative headroom.
BudgetSettings read_budget_settings(const sdk::ConfigView* config);

// "1234 MiB", rounded to the nearest MiB.
std::string mib(std::uint64_t bytes);

// The component called `name`; throws Error(internal) naming it and the known components.
const sdk::ComponentInfo& find_component(const sdk::PlacementRequest& request, const std::string& name);

// Sum of the named components' bytes (each must exist, see find_component).
std::uint64_t weight_bytes(const sdk::PlacementRequest& request, const std::vector<std::string>& names);

// The bytes the resident set plus activations may use, per the rule above; 0 when unknown
// (see budget_known).
std::uint64_t effective_budget(const sdk::PlacementRequest& request, const BudgetSettings& settings);
bool budget_known(const sdk::PlacementRequest& request);

// Compares resident_weight_bytes + request.estimated_activation_bytes with `budget` and switches on
// slicing (diffusion) or tiling (decoding) in `options` when it does not fit. Slicing is switched on
// whenever the unsliced phase does not fit (it only lowers memory); the reason says whether the
// sliced estimate fits. Returns one line with the phase, both numbers in MiB and the decision.
std::string apply_memory_saving(const sdk::PlacementRequest& request, std::uint64_t resident_weight_bytes,
                                const BudgetSettings& settings, sdk::RuntimeOptions& options);

// "unet, vae" (or "none").
std::string join_names(const std::vector<std::string>& names);

}  // namespace ftdr::plugins
