// hosts/ftdr/serve/metrics.hpp: GET /metrics in the Prometheus text format (version 0.0.4).
#pragma once
#include <string>

#include "job_service.hpp"

namespace ftdr::host::serve {

// ftdr_ready, ftdr_host_resident_bytes, ftdr_device_*_bytes{device}
// (not on the CPU), ftdr_jobs_queued, ftdr_jobs_queued_by_priority{priority}, ftdr_jobs_running,
// ftdr_workers{state}, ftdr_jobs_retry_pending, ftdr_queue_waiting{priority} and
// ftdr_queue_lag_seconds{priority} (the queue plugin's depth(): every waiting job) (gauges);
// ftdr_jobs_submitted_total, ftdr_retries_total, ftdr_jobs_finished_total{state},
// ftdr_attempts_failed_total{kind}, ftdr_recoveries_total{kind,action} (counters) and
// ftdr_phase_duration_seconds{phase} (histogram): this process's, since it started.
std::string metrics_text(const ServiceCounts& counts, bool ready);

}  // namespace ftdr::host::serve
