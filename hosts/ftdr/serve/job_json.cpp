// Jobs as JSON (see job_json.hpp).
#include "job_json.hpp"

#include <cctype>

#include "ftdr/framework/jobs/request_json.hpp"

namespace ftdr::host::serve {

namespace fw = ftdr::framework;
using nlohmann::json;

std::string api_state_name(fw::ExecutionState state) {
  if (state == fw::ExecutionState::idle) return "queued";
  std::string name(fw::to_string(state));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

bool is_final_state_name(const std::string& state) {
  return state == "completed" || state == "failed" || state == "cancelled";
}

std::string status_url(std::int64_t id) { return "/v1/jobs/" + std::to_string(id); }
std::string image_url(std::int64_t id, std::size_t index) {
  return status_url(id) + "/images/" + std::to_string(index);
}

namespace {

json phase_json(const fw::PhaseRecord& p) {
  return {{"attempt", p.attempt},
          {"phase", std::string(sdk::to_string(p.phase))},
          {"ms", p.ms},
          {"peak_bytes", p.after.peak_bytes}};
}

// While a job runs: the phase runs that ended, then the running one with its time and the backend's
// peak so far (the engine reset the peak when the phase began). Without `memory` (the job runs in a
// worker process, or the backend could not be asked) there is no running entry: no figure is made up.
json live_phases(const fw::JobStatus& live, const std::optional<sdk::MemoryStats>& memory) {
  json phases = json::array();
  for (const auto& p : live.phases) phases.push_back(phase_json(p));
  if (live.phase && memory && !fw::is_terminal(live.state))
    phases.push_back({{"attempt", live.attempts},
                      {"phase", std::string(sdk::to_string(*live.phase))},
                      {"ms", live.state_ms},
                      {"peak_bytes", memory->peak_bytes},
                      {"running", true}});
  return phases;
}

}  // namespace

json result_json(const fw::JobResult& r) {
  json attempts = json::array();
  for (const auto& a : r.attempts)
    attempts.push_back({{"number", a.number},
                        {"kind", std::string(sdk::to_string(a.failure.kind))},
                        {"phase", std::string(sdk::to_string(a.failure.phase))},
                        {"step", a.failure.step},
                        {"message", a.failure.message},
                        {"change", a.change},
                        {"delay_ms", a.delay_ms}});
  json phases = json::array();
  for (const auto& p : r.metrics.phases) phases.push_back(phase_json(p));
  json out{{"images", r.written_paths},
           {"attempts", attempts},
           {"degraded", r.degraded},
           {"timings", {{"wait_ms", r.metrics.wait_ms}, {"run_ms", r.metrics.run_ms}, {"phases", phases}}}};
  if (!r.ok())
    out["error"] = {{"kind", r.error_kind ? std::string(sdk::to_string(*r.error_kind)) : "internal"},
                    {"message", r.error_message}};
  return out;
}

std::string stored_request(const sdk::GenerationRequest& request) {
  json j = fw::request_json(request);
  j.erase("output_dir");
  j.erase("output_prefix");
  return j.dump();
}

namespace {

json image_urls(const JobRecord& r) {
  json urls = json::array();
  if (r.state == "completed" && r.result.contains("images"))
    for (std::size_t i = 0; i < r.result["images"].size(); ++i) urls.push_back(image_url(r.id, i));
  return urls;
}

json public_request(const JobRecord& r) {
  json j = fw::request_json(r.request);
  j.erase("output_dir");
  j.erase("output_prefix");
  return j;
}

}  // namespace

json job_json(const JobRecord& r, const std::optional<fw::JobStatus>& live,
              const std::optional<sdk::MemoryStats>& memory) {
  json j{{"id", r.id},
         {"status_url", status_url(r.id)},
         {"state", r.state},
         {"priority", std::string(sdk::to_string(r.priority))},
         {"step", r.step},
         {"total_steps", r.total_steps},
         {"created_ms", r.created_ms},
         {"finished_ms", r.finished_ms},
         {"request", public_request(r)},
         {"images", image_urls(r)}};
  j["phase"] = nullptr;
  j["queue_position"] = nullptr;
  if (live && !r.finished()) {
    if (live->phase) j["phase"] = std::string(sdk::to_string(*live->phase));
    if (live->queue_position) j["queue_position"] = *live->queue_position;
    j["attempts"] = live->attempts;
    j["timings"] = {
        {"wait_ms", live->wait_ms}, {"run_ms", live->run_ms}, {"phases", live_phases(*live, memory)}};
  }
  if (r.finished()) {
    const std::size_t failed = r.result.value("attempts", json::array()).size();
    j["attempts"] = r.state == "completed" ? failed + 1 : failed;  // a failed job's last attempt is listed
    j["attempt_history"] = r.result.value("attempts", json::array());
    j["timings"] = r.result.value("timings", json::object());
    j["degraded"] = r.result.value("degraded", false);
    if (r.result.contains("error")) j["error"] = r.result["error"];
  }
  return j;
}

json job_summary(const JobRecord& r) {
  return {{"id", r.id},
          {"status_url", status_url(r.id)},
          {"state", r.state},
          {"priority", std::string(sdk::to_string(r.priority))},
          {"created_ms", r.created_ms},
          {"finished_ms", r.finished_ms},
          {"images", image_urls(r)}};
}

json final_event(const JobRecord& r) {
  json j{{"state", r.state}, {"images", image_urls(r)}};
  if (r.result.contains("error")) j["error"] = r.result["error"];
  return j;
}

}  // namespace ftdr::host::serve
