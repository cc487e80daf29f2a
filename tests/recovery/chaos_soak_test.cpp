// Chaos: two workers run 200 tiny jobs while the backend injects seeded random faults (oom,
// device_error, nan at every injection point). Every job must end COMPLETED or FAILED with a
// reason, all within a timeout (none lost or stuck), and the process must not keep growing: VmRSS
// after the run stays within kRssBoundMiB of VmRSS after a warm-up batch.
#include <gtest/gtest.h>

#include <cstdio>

#include "recovery/recovery_rig.hpp"

namespace ftdr::test {
namespace {

using namespace std::chrono_literals;

constexpr int kJobs = 200;
constexpr int kWarmUp = 20;
constexpr std::uint64_t kRssBoundMiB = 64;

struct Tally {
  int completed = 0, failed = 0, degraded = 0, retried = 0;
};

// Submits `n` jobs, waits for every result (fails the test for any that does not arrive within
// the deadline or ends without a reason) and counts the outcomes.
Tally run_batch(Rig& rig, int n, std::uint64_t seed0) {
  std::vector<fw::JobId> ids;
  for (int i = 0; i < n; ++i) {
    auto request = small_request(2 + i % 2);
    request.seed = seed0 + static_cast<std::uint64_t>(i);
    request.output_dir = (rig.dir() / "out").string();
    ids.push_back(rig.jobs().submit(request));
  }
  Tally tally;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  for (fw::JobId id : ids) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto r = rig.jobs().result(id, std::max(left, std::chrono::milliseconds(1)));
    if (!r) {
      ADD_FAILURE() << "job " << id << " lost or stuck: " << fw::to_string(rig.jobs().status(id).state);
      continue;
    }
    if (r->state == fw::ExecutionState::completed) {
      ++tally.completed;
      EXPECT_EQ(r->images.size(), 1u) << "job " << id;
      tally.degraded += r->degraded;
    } else {
      ++tally.failed;
      EXPECT_EQ(r->state, fw::ExecutionState::failed) << "job " << id;
      EXPECT_TRUE(r->error_kind.has_value()) << "job " << id;
      EXPECT_FALSE(r->error_message.empty()) << "job " << id;
      EXPECT_FALSE(r->attempts.empty()) << "job " << id;
    }
    tally.retried += !r->attempts.empty();
  }
  return tally;
}

TEST(ChaosSoak, TwoWorkers200JobsAllEndAndMemoryStaysFlat) {
  FTDR_REQUIRE_TINY_SD1(model);
  RigOptions options;
  options.workers = 2;
  Rig rig(model, fresh_test_dir(), "[faults]\nchaos = \"seed=7:p=0.08\"\n" + fast_recovery(), options);
  ASSERT_TRUE(rig.ok());
  const auto start = std::chrono::steady_clock::now();
  Tally warm = run_batch(rig, kWarmUp, 1000);
  const std::uint64_t rss_warm = rss_bytes();
  Tally t = run_batch(rig, kJobs, 5000);
  const std::uint64_t rss_after = rss_bytes();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "[ chaos   ] warm-up %d jobs: %d completed, %d failed; run %d jobs: %d completed (%d degraded), "
      "%d failed, %d retried; VmRSS after warm-up %.1f MiB, after run %.1f MiB; %.1f s\n",
      kWarmUp, warm.completed, warm.failed, kJobs, t.completed, t.degraded, t.failed, t.retried,
      rss_warm / 1048576.0, rss_after / 1048576.0, seconds);
  EXPECT_EQ(t.completed + t.failed, kJobs);
  EXPECT_GT(t.retried, 0) << "chaos injected nothing: the test proves nothing";
  EXPECT_GT(t.completed, kJobs / 2) << "recovery should save most jobs at p=0.08";
  ASSERT_GT(rss_warm, 0u) << "no /proc/self/status";
  EXPECT_LT(rss_after, rss_warm + kRssBoundMiB * 1048576)
      << "VmRSS grew by more than " << kRssBoundMiB << " MiB";
  // Nothing left behind in the manager: no job queued, running or waiting on a timer.
  const auto stats = rig.jobs().stats();
  EXPECT_EQ(stats.queued + stats.running + stats.retry_pending, 0u);
  EXPECT_EQ(stats.completed + stats.failed, static_cast<std::uint64_t>(kWarmUp + kJobs));
}

}  // namespace
}  // namespace ftdr::test
