// adaptive_policy.cpp: see adaptive_policy.h for the rule.
#include "adaptive_policy.hpp"

#include <algorithm>
#include <utility>

namespace ftdr::plugins {
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::uint64_t sum_bytes(const std::vector<sdk::ComponentInfo>& components) {
  std::uint64_t sum = 0;
  for (const auto& c : components) sum += c.bytes;
  return sum;
}

}  // namespace

AdaptiveSettings read_adaptive_settings(const sdk::ConfigView* config) {
  AdaptiveSettings s;
  s.budget = read_budget_settings(config);
  if (config == nullptr) return s;
  const std::string eviction = config->get_string("eviction", "largest");
  if (eviction == "largest") {
    s.eviction = Eviction::largest;
  } else if (eviction == "lru") {
    s.eviction = Eviction::lru;
  } else {
    config->reject("eviction", "\"largest\" or \"lru\"");
  }
  return s;
}

AdaptivePolicy::AdaptivePolicy(AdaptiveSettings settings, std::shared_ptr<sdk::Logger> logger)
    : settings_(settings), logger_(std::move(logger)) {}

std::vector<sdk::ComponentInfo> AdaptivePolicy::eviction_order(std::vector<sdk::ComponentInfo> kept) const {
  auto used = [this](const std::string& name) {
    auto it = last_used_.find(name);
    return it == last_used_.end() ? std::uint64_t{0} : it->second;
  };
  const bool lru = settings_.eviction == Eviction::lru;
  std::sort(kept.begin(), kept.end(), [&](const sdk::ComponentInfo& a, const sdk::ComponentInfo& b) {
    if (lru && used(a.name) != used(b.name)) return used(a.name) < used(b.name);
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    return a.name < b.name;
  });
  return kept;
}

sdk::Placement AdaptivePolicy::place(const sdk::PlacementRequest& request) {
  sdk::Placement p;
  p.options = request.options;
  const std::uint64_t needed_bytes = weight_bytes(request, request.needed);  // validates the names
  p.on_device = request.needed;

  std::vector<sdk::ComponentInfo> kept;
  for (const auto& c : request.components)
    if (c.location != sdk::Device::cpu && !contains(request.needed, c.name)) kept.push_back(c);
  kept = eviction_order(std::move(kept));

  if (budget_known(request)) {
    const std::uint64_t budget = effective_budget(request, settings_.budget);
    const std::uint64_t phase_bytes = needed_bytes + request.estimated_activation_bytes;
    std::uint64_t kept_bytes = sum_bytes(kept);
    auto it = kept.begin();
    while (it != kept.end() && phase_bytes + kept_bytes > budget) {
      p.on_cpu.push_back(it->name);
      kept_bytes -= it->bytes;
      ++it;
    }
    kept.erase(kept.begin(), it);
  }
  p.release_cache = !p.on_cpu.empty();

  std::vector<std::string> kept_names;
  kept_names.reserve(kept.size());
  for (const auto& c : kept) kept_names.push_back(c.name);
  p.reason = "adaptive: on device " + join_names(p.on_device) + ", kept " + join_names(kept_names) +
             ", evicted " + join_names(p.on_cpu) + "; " +
             apply_memory_saving(request, needed_bytes + sum_bytes(kept), settings_.budget, p.options);

  ++clock_;
  for (const auto& name : request.needed) last_used_[name] = clock_;
  if (logger_ && logger_->enabled(sdk::LogLevel::debug)) logger_->debug(p.reason);
  return p;
}

}  // namespace ftdr::plugins
