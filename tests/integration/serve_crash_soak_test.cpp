// `ftdr serve` killed (kill -9) at seeded random moments while jobs run, restarted each time: every
// accepted job completes exactly once, with exactly one PNG in its folder, byte-identical to the PNG
// of the same request run without interruption. Test backend (no libtorch): steps of 20 ms, a
// checkpoint every 2 steps, so kills land in every phase, between checkpoints and on them.
#include <random>

#include <gtest/gtest.h>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(ServeCrashSoak, EveryAcceptedJobCompletesExactlyOnce) {
  ServeOptions o;
  o.step_ms = 20;
  o.steps = 6;
  o.extra = "[checkpoint]\nevery_steps = 2\n";
  ServeProcess server(fresh_dir("serve_soak"), o);
  std::mt19937 rng(20251201);
  std::vector<std::int64_t> ids;
  for (int round = 0; round < 10; ++round) {
    for (int j = 0; j < 2; ++j) {
      const auto seed = static_cast<std::uint64_t>(ids.size());
      ids.push_back(submit_job(server.port(), {{"prompt", "soak"}, {"seed", seed}}));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    server.kill(SIGKILL);
    server.start();
  }
  std::vector<std::string> pngs;
  for (auto id : ids) pngs.push_back(png_of(server.port(), id));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE("job " + std::to_string(ids[i]));
    const std::int64_t again = submit_job(server.port(), {{"prompt", "soak"}, {"seed", i}});
    EXPECT_EQ(pngs[i], png_of(server.port(), again));
    EXPECT_EQ(png_size(pngs[i]), std::make_pair(16, 8));
    std::vector<std::string> files;
    for (const auto& f : fs::directory_iterator(server.dir() / "out" / ("job-" + std::to_string(ids[i]))))
      files.push_back(f.path().filename().string());
    EXPECT_EQ(files, std::vector<std::string>{"image-0.png"});  // none duplicated
  }
  const json list = json_of(http(server.port(), "GET", "/v1/jobs?limit=1000"))["jobs"];
  ASSERT_EQ(list.size(), 2 * ids.size());  // none lost, none added
  for (const auto& job : list) EXPECT_EQ(job["state"], "completed") << job;
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
