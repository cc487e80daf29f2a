// The pieces of `ftdr serve`'s /metrics text that a CPU-only test server cannot reach: device memory
// series (only a CUDA backend reports them) and the action label of every decision the progressive
// recovery plugin can make, read from the change texts its own code writes (so a reworded change
// shows up here, not as "other" in a dashboard).
#include <gtest/gtest.h>

#include "oom_ladder.hpp"
#include "progressive_recovery.hpp"
#include "serve/metrics.hpp"
#include "serve/recovery_action.hpp"

namespace ftdr::test {
namespace {

using host::serve::recovery_action;
using plugins::Rung;

sdk::GenerationParams roomy_params() {
  sdk::GenerationParams p;  // 512x512, batch 4, unsliced attention, no tiling: every rung applies
  p.batch = 4;
  p.options.attention = sdk::AttentionMode::naive;
  return p;
}

TEST(ServeRecoveryAction, EveryOomRungIsNamedAsInTheLadderConfig) {
  for (Rung rung : {Rung::offload, Rung::slicing, Rung::smaller_slices, Rung::split_batch,
                    Rung::reduce_resolution, Rung::tiling}) {
    sdk::RecoveryDecision d;
    d.params = roomy_params();
    const sdk::Failure oom{sdk::ErrorKind::out_of_memory, sdk::Phase::diffusion, 3, "oom"};
    ASSERT_TRUE(plugins::apply_rung(rung, oom, {}, plugins::ProgressiveSettings{}, d)) << to_string(rung);
    EXPECT_EQ(recovery_action(d.change), to_string(rung)) << d.change;
  }
}

TEST(ServeRecoveryAction, OtherDecisionsOfTheProgressivePlugin) {
  plugins::ProgressiveRecovery recovery{plugins::ProgressiveSettings{}};
  struct Case {
    sdk::ErrorKind kind;
    sdk::Phase phase;
    sdk::DType dtype;
    const char* action;
  };
  const Case cases[] = {
      {sdk::ErrorKind::numerical_error, sdk::Phase::decoding, sdk::DType::f16, "upcast_vae"},
      {sdk::ErrorKind::numerical_error, sdk::Phase::diffusion, sdk::DType::f16, "upcast_dtype"},
      {sdk::ErrorKind::numerical_error, sdk::Phase::diffusion, sdk::DType::f32, "retry_as_is"},
      {sdk::ErrorKind::device_error, sdk::Phase::diffusion, sdk::DType::f32, "retry_after_device_cleanup"},
      {sdk::ErrorKind::timeout, sdk::Phase::diffusion, sdk::DType::f32, "retry"},
  };
  for (const auto& c : cases) {
    sdk::GenerationParams current = roomy_params();
    current.options.dtype = c.dtype;
    const auto d = recovery.decide({c.kind, c.phase, 2, "injected"}, {}, current);
    ASSERT_TRUE(d.retry) << c.action;
    EXPECT_EQ(recovery_action(d.change), c.action) << d.change;
  }
  EXPECT_EQ(recovery_action(""), "");  // gave up: no recovery
  EXPECT_EQ(recovery_action("swap the moon"), "other");
}

TEST(ServeMetricsText, DeviceMemoryOnCudaNothingMadeUpOnTheCpu) {
  host::serve::ServiceCounts c;
  sdk::MemoryStats m;
  m.device = sdk::Device::cuda;
  m.allocated_bytes = 1000;
  m.reserved_bytes = 2048;
  m.peak_bytes = 1500;
  m.free_bytes = 70000;
  m.total_bytes = 80000;
  c.memory = m;
  const std::string cuda = host::serve::metrics_text(c, true);
  for (const char* line :
       {"ftdr_device_allocated_bytes{device=\"cuda\"} 1000\n",
        "ftdr_device_reserved_bytes{device=\"cuda\"} 2048\n",
        "ftdr_device_peak_allocated_bytes{device=\"cuda\"} 1500\n",
        "ftdr_device_free_bytes{device=\"cuda\"} 70000\n", "ftdr_device_total_bytes{device=\"cuda\"} 80000\n",
        "# TYPE ftdr_device_allocated_bytes gauge\n"})
    EXPECT_NE(cuda.find(line), std::string::npos) << line << cuda;
  c.memory->device = sdk::Device::cpu;
  EXPECT_EQ(host::serve::metrics_text(c, true).find("ftdr_device_"), std::string::npos);
  c.memory.reset();  // before the model is loaded
  EXPECT_EQ(host::serve::metrics_text(c, false).find("ftdr_device_"), std::string::npos);
}

// ftdr_queue_waiting and ftdr_queue_lag_seconds come from the queue plugin's depth(): every
// priority is listed, a priority with no waiting job has lag 0; no depth (the queue could not be
// asked): no series rather than made-up zeros.
TEST(ServeMetricsText, QueueWaitingAndLagFromTheQueuesDepth) {
  host::serve::ServiceCounts c;
  c.now_ms = 100000;
  sdk::QueueDepth d;
  d.waiting[0] = 1;
  d.oldest_ms[0] = 99500;
  d.waiting[3] = 7;
  d.oldest_ms[3] = 40000;
  c.depth = d;
  const std::string text = host::serve::metrics_text(c, true);
  for (const char* line :
       {"ftdr_queue_waiting{priority=\"urgent\"} 1\n", "ftdr_queue_waiting{priority=\"high\"} 0\n",
        "ftdr_queue_waiting{priority=\"normal\"} 0\n", "ftdr_queue_waiting{priority=\"low\"} 7\n",
        "ftdr_queue_lag_seconds{priority=\"urgent\"} 0.5\n", "ftdr_queue_lag_seconds{priority=\"high\"} 0\n",
        "ftdr_queue_lag_seconds{priority=\"low\"} 60\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << text;
  c.depth.reset();
  EXPECT_EQ(host::serve::metrics_text(c, true).find("ftdr_queue_"), std::string::npos);
}

}  // namespace
}  // namespace ftdr::test
