// [queue] files = "queue" on one `ftdr serve` with the `local` queue: the code paths of a fleet that
// shares nothing but its queue (the runner keeps checkpoints and PNGs as blobs, here in the journal;
// the server serves the PNGs it fetched), in process and through a worker process. A "cancel"
// shutdown stores the running job's newest checkpoint; with <state_dir>/jobs gone, the next start
// resumes from the stored one, not from step 1.
#include <gtest/gtest.h>

#include <fstream>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string file_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// `extra`: more config (worker processes).
void expect_resumes_from_the_queue(const std::string& name, const std::string& extra) {
  ServeOptions o;
  o.step_ms = 100;
  o.steps = 30;
  o.shutdown = "cancel";
  o.extra = "[checkpoint]\nevery_steps = 1\n[queue]\nfiles = \"queue\"\n" + extra;
  ServeProcess server(fresh_dir(name), o);
  const std::int64_t id = submit_job(server.port(), {{"prompt", "stopped, then resumed from the queue"}});
  for (int i = 0; i < 6000 && job_status(server.port(), id)["step"].get<int>() < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(server.stop(), 0);
  const auto left = checkpoint_files(server.dir() / "state");
  ASSERT_EQ(left.size(), 1u);
  const int saved = std::stoi(left[0].substr(std::string("latents_i0_step").size()));
  EXPECT_GE(saved, 3);
  fs::remove_all(server.dir() / "state" / "jobs");  // only the queue has it now

  server.start();
  const std::string events = http(server.port(), "GET", "/v1/jobs/" + std::to_string(id) + "/events").body;
  const std::string progress = "event: progress\ndata: {\"step\":";
  const auto first = events.find(progress);
  ASSERT_NE(first, std::string::npos) << events;
  EXPECT_EQ(std::stoi(events.substr(first + progress.size())), saved + 1)
      << "the stored checkpoint's next step";
  const std::string png = png_of(server.port(), id);
  EXPECT_EQ(png_size(png), std::make_pair(16, 8));
  EXPECT_EQ(png, file_bytes(server.dir() / "out" / ("job-" + std::to_string(id)) / "image-0.png"));
  EXPECT_TRUE(checkpoint_files(server.dir() / "state").empty()) << "the restored folder went with the job";
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeQueueFiles, ACancelShutdownResumesFromTheCheckpointInTheQueue) {
  expect_resumes_from_the_queue("serve_queue_files", "");
}

TEST(ServeQueueFiles, WorkerProcessesResumeFromTheCheckpointInTheQueue) {
  expect_resumes_from_the_queue("serve_queue_files_workers", "[workers]\ncount = 1\n");
}

}  // namespace
}  // namespace ftdr::test
