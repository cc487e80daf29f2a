// `ftdr serve` with a worker process ([workers] count = 1) on the test backend: each injected worker
// fault (abort() mid-diffusion and mid-decode, a hang, a sticky device error) costs the worker its
// process, the supervisor restarts it, and the job resumes from its newest checkpoint and completes
// with a PNG byte-identical to an uninterrupted run of the same request (the fault fires once per
// server run: FTDR_FAULT_COUNTS, so the second job is the uninterrupted one). A job that crashes
// every worker it runs on ends FAILED as a poison job.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/serve_workers_support.hpp"

namespace ftdr::test {
namespace {

using nlohmann::json;
using testing::HasSubstr;

struct FaultCase {
  const char* name;
  std::string faults, workers_extra;
  std::string cause;        // ftdr_worker_restarts_total{cause=...}
  std::string kind, phase;  // the attempt that records the lost worker
  std::string says;         // in that attempt's message
};

// Names the case in test listings (CTest shows GetParam()), not its bytes.
void PrintTo(const FaultCase& c, std::ostream* out) { *out << c.name; }

class WorkerFault : public testing::TestWithParam<FaultCase> {};

TEST_P(WorkerFault, JobResumesOnARestartedWorkerToTheSamePng) {
  const FaultCase& c = GetParam();
  ServeProcess server(fresh_dir(std::string("workers_") + c.name), worker_options(c.faults, c.workers_extra));
  const int port = server.port();
  const pid_t first_pid = workers_of(port)[0]["pid"];
  const json request{{"prompt", "a worker fault"}, {"seed", 11}};
  const std::int64_t hit = submit_job(port, request);
  const std::string resumed = png_of_job(port, hit);
  const std::string whole = png_of_job(port, submit_job(port, request));
  EXPECT_EQ(resumed, whole);  // byte for byte
  EXPECT_EQ(png_size(whole), std::make_pair(16, 8));

  const json status = job_status(port, hit);
  ASSERT_EQ(status["attempt_history"].size(), 1u) << status.dump(2);
  const json& lost = status["attempt_history"][0];
  EXPECT_EQ(lost["kind"], c.kind);
  EXPECT_EQ(lost["phase"], c.phase);
  EXPECT_THAT(lost["message"].get<std::string>(), HasSubstr(c.says));
  EXPECT_THAT(lost["message"].get<std::string>(), HasSubstr("(pid " + std::to_string(first_pid) + ")"));
  EXPECT_THAT(lost["change"].get<std::string>(), HasSubstr("a new worker process resumes it"));

  const json workers = workers_of(port);
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0]["restarts"], 1);
  EXPECT_EQ(workers[0]["state"], "idle");
  EXPECT_NE(workers[0]["pid"], first_pid);
  EXPECT_EQ(metric_line(port, "ftdr_worker_restarts_total{cause=\"" + c.cause + "\"}"),
            "ftdr_worker_restarts_total{cause=\"" + c.cause + "\"} 1");
  EXPECT_EQ(server.stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Faults, WorkerFault,
    testing::Values(FaultCase{"crash_diffusion", "crash = \"diffusion:step=3\"", "", "crash", "internal",
                              "diffusion", "killed by signal 6 (SIGABRT)"},
                    FaultCase{"crash_decode", "crash = \"decode\"", "", "crash", "internal", "decoding",
                              "killed by signal 6 (SIGABRT)"},
                    FaultCase{"hang_decode", "hang = \"decode\"", "step_timeout_s = 2\n", "hang", "timeout",
                              "decoding", "made no progress on its job for 2 s ([workers] step_timeout_s)"},
                    FaultCase{"sticky_diffusion", "sticky_device_error = \"diffusion:step=2\"", "", "sticky",
                              "device_error", "diffusion", "reported a sticky device error"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(WorkerFault, AJobThatCrashesEveryWorkerEndsFailedAsAPoisonJob) {
  ServeProcess server(fresh_dir("workers_poison"), worker_options("crash = \"diffusion:step=2:times=always\"",
                                                                  "max_crashes_per_job = 2\n"));
  const int port = server.port();
  const std::int64_t id = submit_job(port, {{"prompt", "poison"}});
  const json done = wait_for_state(port, id, "failed");
  ASSERT_EQ(done["state"], "failed") << done.dump(2);
  EXPECT_EQ(done["error"]["kind"], "internal");
  EXPECT_THAT(
      done["error"]["message"].get<std::string>(),
      HasSubstr("poison job: it brought down a worker 2 times in a row ([workers] max_crashes_per_job = 2); "
                "the last time: worker 0 (pid "));
  EXPECT_THAT(done["error"]["message"].get<std::string>(), HasSubstr("killed by signal 6 (SIGABRT)"));
  ASSERT_EQ(done["attempt_history"].size(), 2u);
  EXPECT_EQ(done["attempt_history"][1]["change"], "");  // the last one: no next attempt
  EXPECT_EQ(workers_of(port)[0]["restarts"], 2);        // the fleet goes on: a new worker waits
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
