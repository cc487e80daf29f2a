// `ftdr serve` with a worker process on the real libtorch plugin and the embedded demo model
// (models/ftdr-shapes, 32x32, 8 steps): each injected worker fault — abort() mid-diffusion and
// mid-decode, a hang in decode, a sticky device error mid-diffusion — restarts the worker, and the
// job completes with a PNG byte-identical to an uninterrupted run; a job that crashes every worker
// ends as a poison job; libtorch is mapped in the workers and never in the server. Skipped in builds
// without the libtorch plugin.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/serve_workers_support.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::HasSubstr;

const fs::path kPlugin = fs::path(FTDR_PLUGIN_BUILD_DIR) / "ftdr_plugin_libtorch.so";

std::string demo_config(const fs::path& dir, const std::string& faults, const std::string& workers_extra) {
  return "[runtime]\nstate_dir = \"" + (dir / "state").string() + "\"\noutput_dir = \"" +
         (dir / "out").string() + "\"\n[plugins]\nsearch_path = [\"" + FTDR_PLUGIN_BUILD_DIR +
         "\"]\n[model]\npath = \"" + FTDR_SOURCE_DIR +
         "/models/ftdr-shapes\"\n[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\ndevice = \"cpu\"\n"
         "[memory]\npolicy = \"resident\"\n[checkpoint]\nevery_steps = 1\n[server]\nlisten = "
         "\"127.0.0.1:0\"\n"
         "[generate]\nwidth = 32\nheight = 32\nsteps = 8\nsampler = \"ddim\"\n[workers]\ncount = 1\n"
         "restart_backoff_ms = 10\n" +
         workers_extra + "[faults]\n" + faults + "\n";
}

struct DemoFault {
  const char* name;
  std::string faults, workers_extra, cause, phase, says;
};

// Names the case in test listings (CTest shows GetParam()), not its bytes.
void PrintTo(const DemoFault& c, std::ostream* out) { *out << c.name; }

class DemoWorkerFault : public testing::TestWithParam<DemoFault> {};

TEST_P(DemoWorkerFault, JobResumesOnARestartedWorkerToTheSamePng) {
  if (!fs::exists(kPlugin)) GTEST_SKIP() << "no libtorch plugin at " << kPlugin;
  const DemoFault& c = GetParam();
  const auto dir = fresh_dir(std::string("workers_demo_") + c.name);
  ServeProcess server(dir, demo_config(dir, c.faults, c.workers_extra));
  const int port = server.port();
  const pid_t worker = workers_of(port)[0]["pid"];
  EXPECT_THAT(maps_of(worker), HasSubstr("libtorch"));
  EXPECT_THAT(maps_of(server.pid()), testing::Not(HasSubstr("libtorch")));

  const json request{{"prompt", "a red circle"}, {"seed", 42}};
  const std::int64_t hit = submit_job(port, request);
  const std::string resumed = png_of_job(port, hit);
  const std::string whole = png_of_job(port, submit_job(port, request));
  EXPECT_EQ(resumed, whole);  // byte for byte
  EXPECT_EQ(png_size(whole), std::make_pair(32, 32));
  const json lost = job_status(port, hit)["attempt_history"];
  ASSERT_EQ(lost.size(), 1u) << lost.dump(2);
  EXPECT_EQ(lost[0]["phase"], c.phase);
  EXPECT_THAT(lost[0]["message"].get<std::string>(), HasSubstr(c.says));
  EXPECT_EQ(workers_of(port)[0]["restarts"], 1);
  EXPECT_EQ(metric_line(port, "ftdr_worker_restarts_total{cause=\"" + c.cause + "\"}"),
            "ftdr_worker_restarts_total{cause=\"" + c.cause + "\"} 1");
  EXPECT_THAT(maps_of(server.pid()), testing::Not(HasSubstr("libtorch")));
  EXPECT_EQ(server.stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Faults, DemoWorkerFault,
                         testing::Values(DemoFault{"crash_diffusion", "crash = \"diffusion:step=5\"", "",
                                                   "crash", "diffusion", "killed by signal 6 (SIGABRT)"},
                                         DemoFault{"crash_decode", "crash = \"decode\"", "", "crash",
                                                   "decoding", "killed by signal 6 (SIGABRT)"},
                                         DemoFault{"hang_decode", "hang = \"decode\"", "step_timeout_s = 2\n",
                                                   "hang", "decoding", "made no progress on its job for 2 s"},
                                         DemoFault{"sticky_diffusion",
                                                   "sticky_device_error = \"diffusion:step=3\"", "", "sticky",
                                                   "diffusion", "an illegal memory access was encountered"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(DemoWorkerFault, AJobThatCrashesEveryWorkerEndsAsAPoisonJob) {
  if (!fs::exists(kPlugin)) GTEST_SKIP() << "no libtorch plugin at " << kPlugin;
  const auto dir = fresh_dir("workers_demo_poison");
  ServeProcess server(
      dir, demo_config(dir, "crash = \"diffusion:step=2:times=always\"", "max_crashes_per_job = 2\n"));
  const json done =
      wait_for_state(server.port(), submit_job(server.port(), {{"prompt", "poison"}}), "failed");
  EXPECT_EQ(done["state"], "failed");
  EXPECT_THAT(done["error"]["message"].get<std::string>(),
              HasSubstr("poison job: it brought down a worker 2 times in a row"));
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
