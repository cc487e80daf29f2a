// resident_policy.cpp: see resident_policy.h.
#include "resident_policy.hpp"

#include <utility>

namespace ftdr::plugins {

ResidentPolicy::ResidentPolicy(BudgetSettings settings, std::shared_ptr<sdk::Logger> logger)
    : settings_(settings), logger_(std::move(logger)) {}

sdk::Placement ResidentPolicy::place(const sdk::PlacementRequest& request) {
  sdk::Placement p;
  p.options = request.options;
  p.release_cache = false;                // nothing leaves the device
  weight_bytes(request, request.needed);  // validates that the phase's components exist
  std::uint64_t all_bytes = 0;
  for (const auto& c : request.components) {
    p.on_device.push_back(c.name);
    all_bytes += c.bytes;
  }
  p.reason = "resident: on device " + join_names(p.on_device) + "; " +
             apply_memory_saving(request, all_bytes, settings_, p.options);
  if (budget_known(request) && all_bytes > effective_budget(request, settings_))
    p.reason += "; the weights alone exceed the budget (use adaptive or sequential)";
  if (logger_ && logger_->enabled(sdk::LogLevel::debug)) logger_->debug(p.reason);
  return p;
}

}  // namespace ftdr::plugins
