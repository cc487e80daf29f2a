// Memory alerts from a job's phase records (see memory_alerts.hpp).
#include "ftdr/framework/engine/memory_alerts.hpp"

#include <cstdio>

namespace ftdr::framework {
namespace {

std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

}  // namespace

std::vector<MemoryAlert> memory_alerts(const std::vector<PhaseRecord>& phases, const MemoryConfig& memory) {
  std::vector<MemoryAlert> alerts;
  for (const auto& p : phases) {
    const double budget = memory.device_budget_mb > 0
                              ? static_cast<double>(memory.device_budget_mb) * 1024 * 1024
                              : static_cast<double>(p.after.total_bytes);
    if (budget <= 0 || p.after.peak_bytes == 0) continue;  // nothing measured
    const double pct = 100.0 * static_cast<double>(p.after.peak_bytes) / budget;
    const bool critical = pct > memory.critical_pct;
    if (!critical && pct <= memory.warning_pct) continue;
    char share[96];
    std::snprintf(share, sizeof share, "%.1f%% of the %s budget (%s %.0f)", pct, gib(budget).c_str(),
                  critical ? "critical_pct" : "warning_pct",
                  critical ? memory.critical_pct : memory.warning_pct);
    alerts.push_back({critical, std::string(sdk::to_string(p.phase)) + " (attempt " +
                                    std::to_string(p.attempt) + "): peak " +
                                    gib(static_cast<double>(p.after.peak_bytes)) + " is " + share});
  }
  return alerts;
}

}  // namespace ftdr::framework
