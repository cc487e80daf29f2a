// sequential_policy.cpp: see sequential_policy.h.
#include "sequential_policy.hpp"

#include <algorithm>
#include <utility>

namespace ftdr::plugins {

SequentialPolicy::SequentialPolicy(BudgetSettings settings, std::shared_ptr<sdk::Logger> logger)
    : settings_(settings), logger_(std::move(logger)) {}

sdk::Placement SequentialPolicy::place(const sdk::PlacementRequest& request) {
  sdk::Placement p;
  p.options = request.options;
  p.release_cache = true;
  const std::uint64_t needed_bytes = weight_bytes(request, request.needed);  // validates the names
  p.on_device = request.needed;
  for (const auto& c : request.components) {
    const bool needed =
        std::find(request.needed.begin(), request.needed.end(), c.name) != request.needed.end();
    if (!needed) p.on_cpu.push_back(c.name);
  }
  p.reason = "sequential: on device " + join_names(p.on_device) + ", to cpu " + join_names(p.on_cpu) + "; " +
             apply_memory_saving(request, needed_bytes, settings_, p.options);
  if (logger_ && logger_->enabled(sdk::LogLevel::debug)) logger_->debug(p.reason);
  return p;
}

}  // namespace ftdr::plugins
