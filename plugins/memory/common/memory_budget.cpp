// memory_budget.cpp: see memory_budget.h for the rule.
#include "memory_budget.hpp"

#include "ftdr/sdk/error.hpp"

namespace ftdr::plugins {
namespace {

std::uint64_t saturating_sub(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }

std::string totals(std::uint64_t weights, std::uint64_t activations, std::uint64_t budget) {
  const std::uint64_t sum = weights + activations;
  return "weights " + mib(weights) + " + activations " + mib(activations) + " = " + mib(sum) +
         (sum > budget ? " > budget " : " <= budget ") + mib(budget);
}

// Diffusion does not fit: slicing is the one option that lowers attention memory.
std::string switch_slicing(const sdk::PlacementRequest& r, std::uint64_t weights, std::uint64_t budget,
                           const BudgetSettings& s, sdk::RuntimeOptions& options) {
  if (options.attention == sdk::AttentionMode::sliced) return "attention slicing already on";
  if (!s.auto_slicing) return "auto_slicing is off: running unsliced";
  options.attention = sdk::AttentionMode::sliced;
  const std::uint64_t sliced = r.estimated_activation_bytes_sliced;
  if (sliced == 0) return "attention slicing on (no sliced estimate)";
  const bool fits = weights + sliced <= budget;
  return "attention slicing on (sliced: activations " + mib(sliced) + ", total " + mib(weights + sliced) +
         (fits ? " fits)" : " still over budget)");
}

std::string switch_tiling(const BudgetSettings& s, sdk::RuntimeOptions& options) {
  if (options.vae_tiling) return "VAE tiling already on";
  if (!s.auto_tiling) return "auto_tiling is off: decoding whole";
  options.vae_tiling = true;
  return "VAE tiling on";
}

}  // namespace

BudgetSettings read_budget_settings(const sdk::ConfigView* config) {
  BudgetSettings s;
  if (config == nullptr) return s;
  const std::int64_t headroom_mb = config->get_int("headroom_mb", 0);
  if (headroom_mb < 0) config->reject("headroom_mb", "an integer number of MiB >= 0");
  s.headroom_bytes = static_cast<std::uint64_t>(headroom_mb) * kMiB;
  s.auto_slicing = config->get_bool("auto_slicing", true);
  s.auto_tiling = config->get_bool("auto_tiling", true);
  return s;
}

std::string mib(std::uint64_t bytes) { return std::to_string((bytes + kMiB / 2) / kMiB) + " MiB"; }

std::string join_names(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

const sdk::ComponentInfo& find_component(const sdk::PlacementRequest& request, const std::string& name) {
  for (const auto& c : request.components)
    if (c.name == name) return c;
  std::vector<std::string> known;
  for (const auto& c : request.components) known.push_back(c.name);
  throw sdk::Error(sdk::ErrorKind::internal, "memory policy: phase " + std::string(to_string(request.next)) +
                                                 " needs component '" + name +
                                                 "' but the backend lists only: " + join_names(known));
}

std::uint64_t weight_bytes(const sdk::PlacementRequest& request, const std::vector<std::string>& names) {
  std::uint64_t sum = 0;
  for (const auto& n : names) sum += find_component(request, n).bytes;
  return sum;
}

bool budget_known(const sdk::PlacementRequest& request) {
  return request.budget_bytes > 0 || request.memory.total_bytes > 0 || request.memory.free_bytes > 0;
}

std::uint64_t effective_budget(const sdk::PlacementRequest& request, const BudgetSettings& settings) {
  std::uint64_t budget = request.budget_bytes;
  if (budget == 0) {
    const auto& m = request.memory;
    budget = m.free_bytes + saturating_sub(m.reserved_bytes, m.allocated_bytes);
    for (const auto& c : request.components)
      if (c.location != sdk::Device::cpu) budget += c.bytes;
  }
  return saturating_sub(budget, settings.headroom_bytes);
}

std::string apply_memory_saving(const sdk::PlacementRequest& request, std::uint64_t resident_weight_bytes,
                                const BudgetSettings& settings, sdk::RuntimeOptions& options) {
  const std::string phase(to_string(request.next));
  if (!budget_known(request)) return phase + ": no device memory reported and no budget set: no check";
  const std::uint64_t budget = effective_budget(request, settings);
  const std::uint64_t activations = request.estimated_activation_bytes;
  std::string line = phase + ": " + totals(resident_weight_bytes, activations, budget);
  if (resident_weight_bytes + activations <= budget) return line + ": fits";
  switch (request.next) {
    case sdk::Phase::diffusion:
      return line + ": " + switch_slicing(request, resident_weight_bytes, budget, settings, options);
    case sdk::Phase::decoding: return line + ": " + switch_tiling(settings, options);
    default: return line + ": nothing to switch on for " + phase;
  }
}

}  // namespace ftdr::plugins
