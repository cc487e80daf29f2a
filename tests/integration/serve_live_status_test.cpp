// GET /v1/jobs/{id} while a job runs: the phases that ended so far with their time and memory, and
// the running phase with its time and the backend's peak so far, in the shape /openapi.json
// declares (Timings, PhaseTiming); the same list, complete, once the job finished.
#include <gtest/gtest.h>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

using nlohmann::json;

// Every field of `value` is declared by the schema and its required fields are there.
void expect_declared(const json& api, const std::string& schema_name, const json& value) {
  const json& schema = api["components"]["schemas"][schema_name];
  for (const auto& key : schema.value("required", json::array()))
    EXPECT_TRUE(value.contains(key.get<std::string>())) << schema_name << " lacks " << key << ": " << value;
  for (auto it = value.begin(); it != value.end(); ++it)
    EXPECT_TRUE(schema["properties"].contains(it.key())) << schema_name << " does not declare " << it.key();
}

std::vector<std::string> phase_names(const json& phases) {
  std::vector<std::string> names;
  for (const auto& p : phases)
    names.push_back(p["phase"].get<std::string>() + (p.value("running", false) ? "*" : ""));
  return names;
}

TEST(ServeLiveStatus, RunningJobShowsThePhasesSoFarAndTheCurrentOne) {
  ServeOptions o;
  o.step_ms = 100;
  o.steps = 50;
  ServeProcess server(fresh_dir("serve_live_status"), o);
  const json api = json_of(http(server.port(), "GET", "/openapi.json"));
  const std::int64_t id = submit_job(server.port(), {{"prompt", "watched"}});
  json status;
  for (int i = 0; i < 6000; ++i) {
    status = job_status(server.port(), id);
    if (status["step"].get<int>() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(status["state"], "diffusion_running") << status.dump();
  const json timings = status["timings"];
  expect_declared(api, "Timings", timings);
  // Initializing and encoding ended; diffusion runs (the "*"), for at least the 2 steps done.
  EXPECT_EQ(phase_names(timings["phases"]),
            (std::vector<std::string>{"initializing", "encoding", "diffusion*"}))
      << timings;
  for (const auto& p : timings["phases"]) {
    expect_declared(api, "PhaseTiming", p);
    EXPECT_EQ(p["attempt"], 1);
    EXPECT_GE(p["ms"].get<double>(), 0);
    EXPECT_EQ(p["peak_bytes"], 0);  // the test backend measures nothing: 0, as in a finished job
  }
  EXPECT_GE(timings["phases"][2]["ms"].get<double>(), 200);  // 2 steps of 100 ms at least

  http(server.port(), "DELETE", "/v1/jobs/" + std::to_string(id));
  const json ended = wait_for_state(server.port(), id, "cancelled");
  EXPECT_EQ(phase_names(ended["timings"]["phases"]),
            (std::vector<std::string>{"initializing", "encoding", "diffusion"}));  // none running now
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeLiveStatus, AQueuedJobHasNoPhasesYet) {
  ServeOptions o;
  o.step_ms = 100;
  o.steps = 50;
  ServeProcess server(fresh_dir("serve_live_queued"), o);
  const std::int64_t running = submit_job(server.port(), {{"prompt", "first"}});
  wait_for_state(server.port(), running, "diffusion_running");
  const std::int64_t queued = submit_job(server.port(), {{"prompt", "second"}});
  const json status = job_status(server.port(), queued);
  EXPECT_EQ(status["state"], "queued");
  EXPECT_EQ(status["timings"]["phases"], json::array());
  http(server.port(), "DELETE", "/v1/jobs/" + std::to_string(queued));
  http(server.port(), "DELETE", "/v1/jobs/" + std::to_string(running));
  wait_for_state(server.port(), running, "cancelled");
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
