// Prometheus text for /metrics (see metrics.hpp).
#include "metrics.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "ftdr/sdk/error.hpp"

namespace ftdr::host::serve {

namespace {

void metric(std::string& out, const std::string& name, const std::string& type, const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The server's resident set now (/proc/self/statm's second field, in pages); 0 where unreadable.
std::uint64_t host_resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// Device memory as the backend reports it. On the CPU there is no device memory beside the host's
// (the backend reports allocated 0 and RSS as the peak): no series then, rather than a made-up 0.
void device_memory(std::string& out, const std::optional<sdk::MemoryStats>& memory) {
  if (!memory || memory->device == sdk::Device::cpu) return;
  const std::string label = "{device=\"" + std::string(sdk::to_string(memory->device)) + "\"} ";
  struct Series {
    const char* name;
    const char* help;
    std::uint64_t bytes;
  };
  const Series series[] = {
      {"ftdr_device_allocated_bytes", "device memory in live tensors now", memory->allocated_bytes},
      {"ftdr_device_reserved_bytes", "device memory the backend's caching allocator holds now",
       memory->reserved_bytes},
      {"ftdr_device_peak_allocated_bytes",
       "peak device memory in live tensors since the running (or last) phase began", memory->peak_bytes},
      {"ftdr_device_free_bytes", "free device memory now", memory->free_bytes},
      {"ftdr_device_total_bytes", "the device's memory", memory->total_bytes}};
  for (const auto& s : series) {
    metric(out, s.name, "gauge", std::string(s.help) + ", as the backend reports it");
    out += s.name + label + std::to_string(s.bytes) + "\n";
  }
}

void workers(std::string& out, const ServiceCounts& c) {
  if (c.workers == 0) return;  // worker processes: their pool's ftdr_workers{state} (workers.md)
  metric(out, "ftdr_workers", "gauge",
         "worker threads by state (busy: running an attempt); worker processes with [workers] count > 0");
  const auto total = static_cast<std::uint64_t>(c.workers);
  const std::uint64_t busy = std::min<std::uint64_t>(c.manager.running, total);
  out += "ftdr_workers{state=\"busy\"} " + std::to_string(busy) + "\n";
  out += "ftdr_workers{state=\"idle\"} " + std::to_string(total - busy) + "\n";
}

// From the queue plugin's depth(): every job waiting in the queue, whoever enqueued it, and how long
// the oldest has waited (0 when none waits). None when the queue could not be asked.
void queue_depth(std::string& out, const ServiceCounts& c) {
  if (!c.depth) return;
  const char* names[] = {"urgent", "high", "normal", "low"};
  metric(out, "ftdr_queue_waiting", "gauge", "jobs waiting in the queue for a runner, by priority");
  for (int p = 0; p < 4; ++p)
    out += std::string("ftdr_queue_waiting{priority=\"") + names[p] + "\"} " +
           std::to_string(c.depth->waiting[p]) + "\n";
  metric(out, "ftdr_queue_lag_seconds", "gauge", "how long the oldest waiting job has waited, by priority");
  for (int p = 0; p < 4; ++p) {
    const std::int64_t oldest = c.depth->oldest_ms[p];
    const double lag = oldest == 0 ? 0.0 : std::max<std::int64_t>(0, c.now_ms - oldest) / 1000.0;
    out += std::string("ftdr_queue_lag_seconds{priority=\"") + names[p] + "\"} " + number(lag) + "\n";
  }
}

void recoveries(std::string& out, const ServiceCounts& c) {
  metric(out, "ftdr_recoveries_total", "counter",
         "retried attempts of finished jobs by error kind and recovery action");
  for (const auto& [key, n] : c.recoveries)
    out += "ftdr_recoveries_total{kind=\"" + key.first + "\",action=\"" + key.second + "\"} " +
           std::to_string(n) + "\n";
}

}  // namespace

std::string metrics_text(const ServiceCounts& c, bool ready) {
  std::string out;
  metric(out, "ftdr_ready", "gauge", "1 once the model is loaded and jobs are accepted");
  out += "ftdr_ready " + std::to_string(ready ? 1 : 0) + "\n";
  metric(out, "ftdr_host_resident_bytes", "gauge", "resident host memory of the server process now");
  out += "ftdr_host_resident_bytes " + std::to_string(host_resident_bytes()) + "\n";
  device_memory(out, c.memory);
  metric(out, "ftdr_jobs_queued", "gauge", "jobs waiting for a worker (queue depth)");
  out += "ftdr_jobs_queued " + std::to_string(c.manager.queued) + "\n";
  metric(out, "ftdr_jobs_queued_by_priority", "gauge", "jobs waiting, by priority");
  for (const char* p : {"urgent", "high", "normal", "low"}) {
    auto it = c.queued_by_priority.find(p);
    out += std::string("ftdr_jobs_queued_by_priority{priority=\"") + p + "\"} " +
           std::to_string(it == c.queued_by_priority.end() ? 0 : it->second) + "\n";
  }
  queue_depth(out, c);
  metric(out, "ftdr_jobs_running", "gauge", "jobs in an attempt now");
  out += "ftdr_jobs_running " + std::to_string(c.manager.running) + "\n";
  workers(out, c);
  metric(out, "ftdr_jobs_retry_pending", "gauge", "jobs waiting on a retry timer");
  out += "ftdr_jobs_retry_pending " + std::to_string(c.manager.retry_pending) + "\n";
  metric(out, "ftdr_jobs_submitted_total", "counter", "jobs accepted");
  out += "ftdr_jobs_submitted_total " + std::to_string(c.manager.submitted) + "\n";
  metric(out, "ftdr_retries_total", "counter", "attempts that ended in a retry");
  out += "ftdr_retries_total " + std::to_string(c.manager.retries) + "\n";
  metric(out, "ftdr_jobs_finished_total", "counter", "jobs by final state");
  for (const char* state : {"completed", "failed", "cancelled"}) {
    auto it = c.finished_by_state.find(state);
    out += std::string("ftdr_jobs_finished_total{state=\"") + state + "\"} " +
           std::to_string(it == c.finished_by_state.end() ? 0 : it->second) + "\n";
  }
  metric(out, "ftdr_attempts_failed_total", "counter", "failed attempts of finished jobs by error kind");
  for (int k = 0; k <= static_cast<int>(sdk::ErrorKind::internal); ++k) {
    const std::string kind(sdk::to_string(static_cast<sdk::ErrorKind>(k)));
    auto it = c.failed_attempts_by_kind.find(kind);
    out += "ftdr_attempts_failed_total{kind=\"" + kind + "\"} " +
           std::to_string(it == c.failed_attempts_by_kind.end() ? 0 : it->second) + "\n";
  }
  recoveries(out, c);
  metric(out, "ftdr_phase_duration_seconds", "histogram", "phase durations of finished jobs");
  for (const auto& [phase, h] : c.phase_seconds) {
    const std::string label = "ftdr_phase_duration_seconds_bucket{phase=\"" + phase + "\",le=\"";
    for (std::size_t i = 0; i < std::size(DurationHistogram::kBounds); ++i)
      out += label + number(DurationHistogram::kBounds[i]) + "\"} " + std::to_string(h.at_most[i]) + "\n";
    out += label + "+Inf\"} " + std::to_string(h.count) + "\n";
    out += "ftdr_phase_duration_seconds_sum{phase=\"" + phase + "\"} " + number(h.sum) + "\n";
    out += "ftdr_phase_duration_seconds_count{phase=\"" + phase + "\"} " + std::to_string(h.count) + "\n";
  }
  return out;
}

}  // namespace ftdr::host::serve
