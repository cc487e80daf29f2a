// `ftdr serve` on the real libtorch plugin and the embedded demo model (models/ftdr-shapes): the
// same request gives byte-identical PNGs, and a job killed (kill -9) in the middle of diffusion
// resumes from its checkpoint at the next start and ends with the PNG an uninterrupted run gives.
// Needs the libtorch plugin: skipped in builds without libtorch (FTDR_WITH_LIBTORCH off).
#include <gtest/gtest.h>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kPlugin = fs::path(FTDR_PLUGIN_BUILD_DIR) / "ftdr_plugin_libtorch.so";

std::string demo_config(const fs::path& dir) {
  return "[runtime]\nstate_dir = \"" + (dir / "state").string() + "\"\noutput_dir = \"" +
         (dir / "out").string() + "\"\n[plugins]\nsearch_path = [\"" + FTDR_PLUGIN_BUILD_DIR +
         "\"]\n[model]\npath = \"" + FTDR_SOURCE_DIR +
         "/models/ftdr-shapes\"\n[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\n"
         "device = \"cpu\"\n[memory]\npolicy = \"resident\"\n[checkpoint]\nevery_steps = 1\n[server]\n"
         "listen = \"127.0.0.1:0\"\n[generate]\nwidth = 64\nheight = 64\nsteps = 20\nsampler = \"ddim\"\n";
}

std::string png_of(int port, std::int64_t id) {
  const json done = wait_for_state(port, id, "completed");
  EXPECT_EQ(done["state"], "completed") << done.dump();
  return http(port, "GET", "/v1/jobs/" + std::to_string(id) + "/images/0").body;
}

TEST(ServeDemoModel, KilledJobResumesToTheSamePngAsAnUninterruptedRun) {
  if (!fs::exists(kPlugin)) GTEST_SKIP() << "no libtorch plugin at " << kPlugin;
  const auto dir = fresh_dir("serve_demo");
  ServeProcess server(dir, demo_config(dir));
  const json request{{"prompt", "a red circle"}, {"seed", 42}};
  const std::string whole = png_of(server.port(), submit_job(server.port(), request));
  EXPECT_EQ(png_size(whole), std::make_pair(64, 64));
  EXPECT_EQ(png_of(server.port(), submit_job(server.port(), request)), whole);  // byte for byte

  const std::int64_t id = submit_job(server.port(), request);
  for (int i = 0; i < 6000 && job_status(server.port(), id)["step"].get<int>() < 5; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
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
