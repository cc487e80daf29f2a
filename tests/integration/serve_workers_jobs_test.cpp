// `ftdr serve` with a worker process on the test backend: what clients see of a job keeps working
// when it runs in a worker — its events across a worker crash, cancel, a "cancel" shutdown, and a kill -9 of
// the server (the workers die with it; the restarted server resumes the job from its checkpoint).
#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/serve_workers_support.hpp"

namespace ftdr::test {
namespace {

using nlohmann::json;

// The job's events as "state" names and "step/total" progress, in order.
std::vector<std::string> events_of(int port, std::int64_t id) {
  const std::string body = http(port, "GET", "/v1/jobs/" + std::to_string(id) + "/events").body;
  std::vector<std::string> seen;
  for (std::size_t at = 0; (at = body.find("event: ", at)) != std::string::npos;) {
    const std::string name = body.substr(at + 7, body.find('\n', at) - at - 7);
    const auto data_at = body.find("data: ", at) + 6;
    const json data = json::parse(body.substr(data_at, body.find('\n', data_at) - data_at));
    seen.push_back(name == "state" ? data["state"].get<std::string>()
                                   : std::to_string(data["step"].get<int>()) + "/" +
                                         std::to_string(data["total"].get<int>()));
    at = data_at;
  }
  return seen;
}

// Whether the process runs (a zombie, killed and not yet reaped by its new parent, does not).
bool running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

TEST(ServeWorkerJobs, EventsFollowTheJobAcrossAWorkerCrash) {
  ServeProcess server(fresh_dir("workers_events"), worker_options("crash = \"diffusion:step=3\""));
  const std::int64_t id = submit_job(server.port(), {{"prompt", "events"}});
  const std::vector<std::string> expected{
      "queued", "initializing",  "encoding_prompt", "diffusion_running", "1/4",
      "2/4",    "retry_pending", "initializing",    "encoding_prompt",   "diffusion_running",
      "3/4",    "4/4",           "decoding",        "completed"};
  EXPECT_EQ(events_of(server.port(), id), expected);  // resumed at step 3: the checkpoint of step 2
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeWorkerJobs, CancellingAJobRunningInAWorkerStopsIt) {
  ServeOptions o = worker_options("");
  o.step_ms = 50;
  o.steps = 200;
  ServeProcess server(fresh_dir("workers_cancel"), o);
  const int port = server.port();
  const std::int64_t id = submit_job(port, {{"prompt", "cancel me"}});
  ASSERT_EQ(wait_for_state(port, id, "diffusion_running")["state"], "diffusion_running");
  EXPECT_EQ(http(port, "DELETE", "/v1/jobs/" + std::to_string(id)).status, 202);
  const json done = wait_for_state(port, id, "cancelled");
  EXPECT_EQ(done["state"], "cancelled");
  EXPECT_EQ(done["error"]["kind"], "cancelled");
  EXPECT_LT(done["timings"]["run_ms"].get<double>(), 200 * 50);  // stopped, not run to the end
  EXPECT_EQ(workers_of(port)[0]["restarts"], 0);
  EXPECT_EQ(png_size(png_of_job(port, submit_job(port, {{"prompt", "next"}, {"steps", 2}}))),
            std::make_pair(16, 8));  // the worker takes the next job
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeWorkerJobs, AKilledServerTakesItsWorkersAlongAndTheJobResumesAtTheNextStart) {
  ServeOptions o = worker_options("");
  o.step_ms = 40;
  o.steps = 30;
  ServeProcess server(fresh_dir("workers_server_killed"), o);
  const json request{{"prompt", "outlive"}, {"seed", 5}};
  const std::int64_t id = submit_job(server.port(), request);
  for (int i = 0; i < 6000 && job_status(server.port(), id)["step"].get<int>() < 5; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const pid_t worker = workers_of(server.port())[0]["pid"];
  server.kill(SIGKILL);
  for (int i = 0; i < 3000 && running(worker); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(running(worker));  // PR_SET_PDEATHSIG: no orphan keeps running the job
  server.start();
  const std::string resumed = png_of_job(server.port(), id);
  const std::vector<std::string> events = events_of(server.port(), id);
  const auto first_step = std::find_if(events.begin(), events.end(),
                                       [](const std::string& e) { return e.find('/') != std::string::npos; });
  ASSERT_NE(first_step, events.end());
  EXPECT_GT(std::stoi(*first_step), 1) << testing::PrintToString(events);  // from its checkpoint
  EXPECT_EQ(resumed, png_of_job(server.port(), submit_job(server.port(), request)));
  EXPECT_EQ(server.stop(), 0);
}

// As in-process: the cancelled run's checkpoints go with it, and the job runs again from the start.
TEST(ServeWorkerJobs, ACancelShutdownStopsTheWorkersJobAndTheNextStartFinishesIt) {
  ServeOptions o = worker_options("");
  o.step_ms = 40;
  o.steps = 30;
  o.shutdown = "cancel";
  ServeProcess server(fresh_dir("workers_cancel_shutdown"), o);
  const json request{{"prompt", "later"}, {"seed", 9}};
  const std::int64_t id = submit_job(server.port(), request);
  for (int i = 0; i < 6000 && job_status(server.port(), id)["step"].get<int>() < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(server.stop(), 0);
  server.start();
  const std::string resumed = png_of_job(server.port(), id);
  EXPECT_EQ(job_status(server.port(), id)["attempt_history"], json::array());  // a shutdown is no failure
  EXPECT_EQ(resumed, png_of_job(server.port(), submit_job(server.port(), request)));
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
