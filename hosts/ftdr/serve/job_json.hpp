// hosts/ftdr/serve/job_json.hpp: a job as the API shows it, and its result as the journal keeps it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "ftdr/framework/jobs/job.hpp"
#include "ftdr/framework/jobs/job_manager.hpp"
#include "job_service.hpp"

namespace ftdr::host::serve {

// "queued" for IDLE, else the state in lower case ("diffusion_running", "completed", ...).
std::string api_state_name(framework::ExecutionState state);
bool is_final_state_name(const std::string& state);  // completed, failed, cancelled

std::string status_url(std::int64_t id);
std::string image_url(std::int64_t id, std::size_t index);

// What the journal keeps of a finished job: image files, error, attempts, timings.
nlohmann::json result_json(const framework::JobResult& result);
// The request as journaled: without the server's output folder and prefix (derived from the id).
std::string stored_request(const sdk::GenerationRequest& request);

// GET /v1/jobs/{id}. `live`: the JobManager's status while the job is in this process's queue.
// `memory`: the backend's memory_stats() now, for the running phase's peak so far.
nlohmann::json job_json(const JobRecord& record, const std::optional<framework::JobStatus>& live,
                        const std::optional<sdk::MemoryStats>& memory = std::nullopt);
// One line of GET /v1/jobs.
nlohmann::json job_summary(const JobRecord& record);
// The final-state SSE event's data.
nlohmann::json final_event(const JobRecord& record);

}  // namespace ftdr::host::serve
