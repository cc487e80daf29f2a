// `ftdr serve`'s /metrics after real recoveries: injected faults ([faults], the test backend's
// FaultPlan) make a job fail twice and recover, and the scraped text counts each recovery by its
// error kind and the action the progressive plugin took; workers by state; memory.
#include <gtest/gtest.h>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

using nlohmann::json;

// The value of one series in Prometheus text; -1 when absent.
long long series_value(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + series.size() + 2));
}

TEST(ServeMetrics, RecoveriesByKindAndActionWorkersAndMemory) {
  ServeOptions o;
  o.steps = 4;
  // An OOM before diffusion step 2 (the diffusion ladder's first rung: slicing), then NaN in the
  // decode (a VAE upcast); each fires once, so the third attempt completes.
  o.extra =
      "[faults]\noom = \"diffusion:step=2\"\nnan = \"decode\"\n[recovery.progressive]\n"
      "backoff_initial_ms = 0\n";
  ServeProcess server(fresh_dir("serve_metrics"), o);
  const json done =
      wait_for_state(server.port(), submit_job(server.port(), {{"prompt", "recovers"}}), "completed");
  ASSERT_EQ(done["state"], "completed") << done.dump();
  const json history = done["attempt_history"];
  ASSERT_EQ(history.size(), 2u) << done.dump();
  EXPECT_EQ(history[0]["kind"], "out_of_memory");
  EXPECT_EQ(history[0]["change"].get<std::string>().rfind("attention slicing on", 0), 0u) << history;
  EXPECT_EQ(history[1]["kind"], "numerical_error");
  EXPECT_EQ(history[1]["change"], "VAE upcast to f32, decoding again");

  const std::string text = "\n" + http(server.port(), "GET", "/metrics").body;
  EXPECT_EQ(series_value(text, "ftdr_recoveries_total{kind=\"out_of_memory\",action=\"slicing\"}"), 1)
      << text;
  EXPECT_EQ(series_value(text, "ftdr_recoveries_total{kind=\"numerical_error\",action=\"upcast_vae\"}"), 1);
  EXPECT_NE(text.find("# TYPE ftdr_recoveries_total counter\n"), std::string::npos);
  EXPECT_EQ(series_value(text, "ftdr_attempts_failed_total{kind=\"out_of_memory\"}"), 1);
  EXPECT_EQ(series_value(text, "ftdr_attempts_failed_total{kind=\"numerical_error\"}"), 1);
  EXPECT_EQ(series_value(text, "ftdr_retries_total"), 2);
  // One worker ([runtime] workers default), idle once the job finished.
  EXPECT_EQ(series_value(text, "ftdr_workers{state=\"busy\"}"), 0);
  EXPECT_EQ(series_value(text, "ftdr_workers{state=\"idle\"}"), 1);
  // The test backend runs on the CPU: host memory only, no device series with a made-up figure.
  EXPECT_GT(series_value(text, "ftdr_host_resident_bytes"), 0);
  EXPECT_EQ(text.find("ftdr_device_"), std::string::npos) << text;
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeMetrics, AWorkerRunningAJobIsBusy) {
  ServeOptions o;
  o.step_ms = 100;
  o.steps = 50;
  ServeProcess server(fresh_dir("serve_metrics_busy"), o);
  const std::int64_t id = submit_job(server.port(), {{"prompt", "long"}});
  ASSERT_EQ(wait_for_state(server.port(), id, "diffusion_running")["state"], "diffusion_running");
  const std::string text = "\n" + http(server.port(), "GET", "/metrics").body;
  EXPECT_EQ(series_value(text, "ftdr_workers{state=\"busy\"}"), 1) << text;
  EXPECT_EQ(series_value(text, "ftdr_workers{state=\"idle\"}"), 0);
  EXPECT_EQ(series_value(text, "ftdr_jobs_running"), 1);
  http(server.port(), "DELETE", "/v1/jobs/" + std::to_string(id));
  wait_for_state(server.port(), id, "cancelled");
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
