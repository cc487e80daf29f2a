// ftdr/framework/engine/memory_alerts.hpp: [memory] warning_pct / critical_pct applied to a job's phases.
//
// After a job, each phase's peak memory (PhaseRecord::after.peak_bytes: the caching allocator's peak
// on CUDA, the process's peak RSS on the CPU) is compared with the budget: [memory] device_budget_mb,
// or the device's total memory when that is 0. A phase above critical_pct gives a critical alert,
// one above warning_pct a warning; the host logs them so a user sees how close a run came to OOM.
//
//   for (auto& a : memory_alerts(result.metrics.phases, cfg.host().memory)) log(a.critical, a.message);
#pragma once
#include <string>
#include <vector>

#include "ftdr/framework/config/config.hpp"
#include "ftdr/framework/jobs/job.hpp"

namespace ftdr::framework {

struct MemoryAlert {
  bool critical = false;
  std::string
      message;  // "diffusion (attempt 1): peak 3.61 GiB is 92.4% of the 3.91 GiB budget (warning_pct 85)"
};

std::vector<MemoryAlert> memory_alerts(const std::vector<PhaseRecord>& phases, const MemoryConfig& memory);

}  // namespace ftdr::framework
