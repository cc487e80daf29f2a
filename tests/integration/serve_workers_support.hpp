// tests/integration/serve_workers_support.hpp: `ftdr serve` with [workers] on the test backend (real
// server and worker processes; the fixture backend compiles in the libtorch backend's fault plan,
// so [faults] crash/hang/sticky_device_error behave as on the real backend).
#pragma once
#include <fstream>
#include <string>

#include "integration/serve_process.hpp"

namespace ftdr::test {

// `count` workers, a checkpoint every step, fast restarts, and the given [faults] lines.
inline ServeOptions worker_options(const std::string& faults, const std::string& workers_extra = "",
                                   int count = 1) {
  ServeOptions o;
  o.steps = 4;
  o.extra = "[checkpoint]\nevery_steps = 1\n[workers]\ncount = " + std::to_string(count) +
            "\nrestart_backoff_ms = 10\n" + workers_extra +
            (faults.empty() ? "" : "[faults]\n" + faults + "\n");
  return o;
}

inline nlohmann::json workers_of(int port) { return json_of(http(port, "GET", "/v1/workers"))["workers"]; }

inline std::string png_of_job(int port, std::int64_t id) {
  const nlohmann::json done = wait_for_state(port, id, "completed");
  if (done["state"] != "completed")
    throw std::runtime_error("job " + std::to_string(id) + ": " + done.dump());
  return http(port, "GET", "/v1/jobs/" + std::to_string(id) + "/images/0").body;
}

// The text of /proc/<pid>/maps: the files mapped into that process.
inline std::string maps_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  return {std::istreambuf_iterator<char>(in), {}};
}

// The line of /metrics that starts with `name` ("" when there is none).
inline std::string metric_line(int port, const std::string& name) {
  const std::string text = http(port, "GET", "/metrics").body;
  const auto at = text.find("\n" + name);
  return at == std::string::npos ? "" : text.substr(at + 1, text.find('\n', at + 1) - at - 1);
}

}  // namespace ftdr::test
