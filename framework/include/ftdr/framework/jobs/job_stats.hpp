// ftdr/framework/jobs/job_stats.hpp: counters and means over the jobs a JobManager has seen.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ftdr::framework {

struct JobStats {
  std::uint64_t submitted = 0;    // accepted by submit()
  std::uint64_t rejected = 0;     // refused by submit() (invalid, queue full, shutting down)
  std::size_t queued = 0;         // waiting in the scheduler now (new jobs and re-queued retries)
  std::size_t running = 0;        // in an attempt on a worker now
  std::size_t retry_pending = 0;  // waiting on a retry timer now
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t retries = 0;  // attempts that ended RETRY_PENDING
  double success_rate = 0;    // completed / (completed + failed); 0 before any finished
  double mean_wait_ms = 0;    // submission → first INITIALIZING, over finished jobs that ran
  double mean_run_ms = 0;     // first INITIALIZING → terminal, over finished jobs that ran
};

}  // namespace ftdr::framework
