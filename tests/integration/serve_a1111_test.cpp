// The AUTOMATIC1111 txt2img route of the real `ftdr serve` (the webuiapi client test drives the
// rest): a call waits for its jobs without holding a server thread.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "integration/cli_runner.hpp"
#include "integration/serve_process.hpp"

using namespace ftdr::test;

// More txt2img calls than the server has threads (2 on this machine class, at most 8), each waiting
// for a slow job: /healthz, /sdapi/v1/progress and a new POST /v1/jobs are still answered before
// any of the calls has its images. A handler that held its thread would leave none to answer them.
TEST(ServeA1111, Txt2ImgCallsHoldNoServerThread) {
  ServeOptions o;
  o.step_ms = 200;  // 3 steps: each job takes over half a second, and they run one at a time
  ServeProcess server(fresh_dir("serve_a1111_threads"), o);
  const int port = server.port();
  constexpr int kCalls = 9;
  std::atomic<int> answered{0};
  std::vector<int> statuses(kCalls, 0);
  std::vector<std::thread> calls;
  for (int i = 0; i < kCalls; ++i)
    calls.emplace_back([&, i] {
      statuses[static_cast<std::size_t>(i)] =
          http(port, "POST", "/sdapi/v1/txt2img", R"({"prompt": "a", "seed": )" + std::to_string(i) + "}")
              .status;
      ++answered;
    });
  for (int i = 0; i < 6000; ++i) {  // every call has submitted its job
    const auto p = json_of(http(port, "GET", "/sdapi/v1/progress"));
    if (p["state"]["job_count"] == kCalls) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(http(port, "GET", "/healthz").status, 200);
  EXPECT_EQ(json_of(http(port, "GET", "/sdapi/v1/progress"))["state"]["job_count"], kCalls);
  const std::int64_t id = submit_job(port, {{"prompt", "b"}});
  EXPECT_EQ(answered.load(), 0) << "a txt2img call ended before the others were answered";
  for (auto& t : calls) t.join();
  EXPECT_EQ(statuses, std::vector<int>(kCalls, 200));
  EXPECT_EQ(wait_for_state(port, id, "completed")["state"], "completed");
  EXPECT_EQ(server.stop(), 0);
}
