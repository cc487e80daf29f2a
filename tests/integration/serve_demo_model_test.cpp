// `ftdr serve` on the real libtorch plugin and the embedded demo model (models/ftdr-shapes): the
// same request gives byte-identical PNGs, and a job killed (kill -9) in the middle of diffusion
// resumes from its checkpoint at the next start and ends with the PNG an uninterrupted run gives;
// while it ran, its status showed the memory of each phase so far.
// Needs the libtorch plugin: skipped in builds without libtorch (FTDR_WITH_LIBTORCH off).
#include <gtest/gtest.h>

#include "integration/serve_demo.hpp"
#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(ServeDemoModel, KilledJobResumesToTheSamePngAsAnUninterruptedRun) {
  if (!demo_plugin_built()) GTEST_SKIP() << "no libtorch plugin at " << demo_plugin();
  const auto dir = fresh_dir("serve_demo");
  ServeProcess server(dir, demo_config(dir));
  const json request{{"prompt", "a red circle"}, {"seed", 42}};
  const std::string whole = png_of(server.port(), submit_job(server.port(), request));
  EXPECT_EQ(png_size(whole), std::make_pair(64, 64));
  EXPECT_EQ(png_of(server.port(), submit_job(server.port(), request)), whole);  // byte for byte

  const std::int64_t id = submit_job(server.port(), request);
  json running = job_status(server.port(), id);
  for (int i = 0; i < 6000 && running["step"].get<int>() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    running = job_status(server.port(), id);
  }
  // Memory per phase while it runs: the libtorch backend on the CPU reports the process's peak RSS
  // in each phase, the running one's so far.
  const json phases = running["timings"]["phases"];
  ASSERT_EQ(phases.size(), 3u) << running.dump();
  EXPECT_EQ(phases[1]["phase"], "encoding");
  EXPECT_GT(phases[1]["peak_bytes"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(phases[2]["phase"], "diffusion");
  EXPECT_EQ(phases[2]["running"], true);
  EXPECT_GT(phases[2]["peak_bytes"].get<std::uint64_t>(), 0u);
  server.kill(SIGKILL);
  server.start();
  const std::string events = http(server.port(), "GET", "/v1/jobs/" + std::to_string(id) + "/events").body;
  const std::string progress = "event: progress\ndata: {\"step\":";
  const auto first = events.find(progress);
  ASSERT_NE(first, std::string::npos) << events;
  EXPECT_GT(std::stoi(events.substr(first + progress.size())), 1) << events;  // resumed, not restarted
  EXPECT_EQ(png_of(server.port(), id), whole);
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
