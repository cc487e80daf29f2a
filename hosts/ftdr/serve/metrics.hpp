// hosts/ftdr/serve/metrics.hpp: GET /metrics in the Prometheus text format (version 0.0.4).
#pragma once
#include <string>

#include "job_service.hpp"

namespace ftdr::host::serve {

// ftdr_ready, ftdr_jobs_queued / running / retry_pending (gauges), ftdr_jobs_submitted_total,
// ftdr_jobs_rejected_total, ftdr_jobs_finished_total{state}, ftdr_attempts_failed_total{kind},
// ftdr_retries_total: counts of this process since it started.
std::string metrics_text(const ServiceCounts& counts, bool ready);

}  // namespace ftdr::host::serve
