// Crash safety of `ftdr serve` on the real libtorch plugin and the embedded demo model: the server
// is stopped at 20 seeded random points of its jobs, restarted each time, and every accepted job
// completes exactly once with the PNG an uninterrupted run of the same request gives, byte for
// byte; none lost, none duplicated. Stopped by kill -9, and by SIGTERM with [runtime] shutdown =
// "cancel" (the running job stops at its next step boundary and stays queued in the journal).
//
// The points, each stopping the server the moment it published the job's event (its SSE stream):
// just after the 202 (queued), encoding_prompt, after diffusion step k (a checkpoint after every
// step), decoding, and completed (before the PNG is downloaded, from the restarted server). Each
// kind comes up 4 times, in a seeded random order with random k. A job is tiny (16x16, 4 steps):
// each soak takes 30-35 s on 2 busy cores, most of it 20 restarts loading the model.
#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "integration/serve_demo.hpp"
#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kSize = 16;
constexpr int kSteps = 4;

struct StopPoint {
  std::string name;
  std::string marker;  // what the job's event stream holds once the point is reached; "" = the 202
};

std::vector<StopPoint> seeded_points(std::mt19937& rng) {
  std::vector<StopPoint> points;
  for (int i = 0; i < 4; ++i) {
    const int step = 1 + static_cast<int>(rng() % kSteps);
    points.push_back({"queued", ""});
    points.push_back({"encoding_prompt", "data: {\"state\":\"encoding_prompt\"}\n"});
    points.push_back({"step " + std::to_string(step), "data: {\"step\":" + std::to_string(step) + ","});
    points.push_back({"decoding", "data: {\"state\":\"decoding\"}\n"});
    points.push_back({"completed", "\"state\":\"completed\"}\n"});
  }
  std::shuffle(points.begin(), points.end(), rng);
  return points;
}

// Follows job `id`'s events until `marker`; false when the stream ended first.
bool reached(int port, std::int64_t id, const std::string& marker) {
  Connection events(port);
  events.send("GET /v1/jobs/" + std::to_string(id) + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string received;
  return events.read_until(marker, received);
}

// Submits one job per point, stops the server there with `signal`, restarts it; then checks.
void soak(const std::string& name, int signal, const std::string& shutdown) {
  const fs::path dir = fresh_dir(name);
  ServeProcess server(dir, demo_config(dir, {kSize, kSteps, shutdown}));
  const json request{{"prompt", "a red circle"}, {"seed", 42}};
  const std::int64_t reference = submit_job(server.port(), request);
  const std::string whole = png_of(server.port(), reference);  // uninterrupted
  ASSERT_EQ(png_size(whole), std::make_pair(kSize, kSize));

  std::mt19937 rng(20261201);
  std::vector<std::int64_t> ids;
  for (const StopPoint& point : seeded_points(rng)) {
    SCOPED_TRACE("job " + std::to_string(ids.size() + 1) + " stopped at " + point.name);
    ids.push_back(submit_job(server.port(), request));
    if (!point.marker.empty()) {
      ASSERT_TRUE(reached(server.port(), ids.back(), point.marker));
    }
    if (signal == SIGKILL) {
      server.kill(SIGKILL);
    } else {
      ASSERT_EQ(server.stop(), 0) << server.err();
    }
    server.start();
  }
  for (const std::int64_t id : ids) {
    SCOPED_TRACE("job " + std::to_string(id));
    EXPECT_EQ(png_of(server.port(), id), whole);  // byte for byte
    std::vector<std::string> files;
    for (const auto& f : fs::directory_iterator(dir / "out" / ("job-" + std::to_string(id))))
      files.push_back(f.path().filename().string());
    EXPECT_EQ(files, std::vector<std::string>{"image-0.png"});  // written once
  }
  const json list = json_of(http(server.port(), "GET", "/v1/jobs?limit=1000"));
  ASSERT_EQ(list["jobs"].size(), ids.size() + 1);  // none lost, none added
  for (const auto& job : list["jobs"]) EXPECT_EQ(job["state"], "completed") << job;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "out"), fs::directory_iterator{}),
            static_cast<std::ptrdiff_t>(ids.size() + 1));
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeDemoSoak, KillMinus9At20PointsLosesAndDuplicatesNothing) {
  if (!demo_plugin_built()) GTEST_SKIP() << "no libtorch plugin at " << demo_plugin();
  soak("serve_demo_soak_kill", SIGKILL, "drain");
}

TEST(ServeDemoSoak, SigtermWithCancelShutdownAt20PointsLosesAndDuplicatesNothing) {
  if (!demo_plugin_built()) GTEST_SKIP() << "no libtorch plugin at " << demo_plugin();
  soak("serve_demo_soak_term", SIGTERM, "cancel");
}

}  // namespace
}  // namespace ftdr::test
