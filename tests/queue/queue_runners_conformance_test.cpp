// The queue plugin's runner registry (sdk/queue.hpp, Runners; ABI 1.4) for every plugin under the
// conformance suite (queue_conformance.hpp): what a runner announces is listed, a new pid under a
// known name counts a restart, silence turns a runner "lost" after 3 leases and drops it after 10.
// Times are the now_ms the tests pass, so no test waits for a clock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ftdr/sdk/error.hpp"
#include "queue/queue_conformance.hpp"

namespace ftdr::test {
namespace {

constexpr std::int64_t kT = 1'800'000'000'000;  // some wall-clock time, in ms
constexpr std::int64_t kLease = 1000;

sdk::RunnerInfo runner(const std::string& name, std::int64_t pid, std::int64_t started_ms = kT) {
  sdk::RunnerInfo r;
  r.name = name;
  r.host = "host-" + name;
  r.pid = pid;
  r.started_ms = started_ms;
  return r;
}

std::vector<std::string> names(const std::vector<sdk::RunnerInfo>& list) {
  std::vector<std::string> out;
  for (const auto& r : list) out.push_back(r.name + ":" + r.state);
  return out;
}

TEST_P(QueueConformance, AnnouncedRunnersAreListedByNameWithWhatTheySaid) {
  auto q = make({kLease, 0, 1 << 20});
  EXPECT_TRUE(q->runners(kT).empty());
  sdk::RunnerInfo b = runner("b", 42);
  b.state = "running";
  b.job = 7;
  b.jobs_done = 3;
  q->announce(b, kT + 5);
  q->announce(runner("a", 41), kT + 6);
  const auto list = q->runners(kT + 10);
  ASSERT_EQ(names(list), (std::vector<std::string>{"a:idle", "b:running"}));
  EXPECT_EQ(list[1].host, "host-b");
  EXPECT_EQ(list[1].pid, 42);
  EXPECT_EQ(list[1].job, 7u);
  EXPECT_EQ(list[1].jobs_done, 3u);
  EXPECT_EQ(list[1].started_ms, kT);
  EXPECT_EQ(list[1].last_seen_ms, kT + 5);
  EXPECT_EQ(list[1].restarts, 0u);
  EXPECT_EQ(list[0].last_seen_ms, kT + 6);
}

TEST_P(QueueConformance, AnAnnouncementReplacesTheRunnersEntry) {
  auto q = make({kLease, 0, 1 << 20});
  q->announce(runner("a", 41), kT);
  sdk::RunnerInfo a = runner("a", 41);
  a.state = "running";
  a.job = 9;
  q->announce(a, kT + 500);
  a.state = "idle";
  a.job = 0;
  a.jobs_done = 1;
  q->announce(a, kT + 900);
  const auto list = q->runners(kT + 900);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, "idle");
  EXPECT_EQ(list[0].job, 0u);
  EXPECT_EQ(list[0].jobs_done, 1u);
  EXPECT_EQ(list[0].last_seen_ms, kT + 900);
  EXPECT_EQ(list[0].restarts, 0u) << "the same pid and start: the same run";
}

TEST_P(QueueConformance, ANewPidOrStartUnderAKnownNameCountsARestart) {
  auto q = make({kLease, 0, 1 << 20});
  q->announce(runner("gpu-a", 100), kT);
  q->announce(runner("gpu-a", 200, kT + 50), kT + 60);
  EXPECT_EQ(q->runners(kT + 60).at(0).restarts, 1u);
  q->announce(runner("gpu-a", 200, kT + 50), kT + 70);
  EXPECT_EQ(q->runners(kT + 70).at(0).restarts, 1u);
  q->announce(runner("gpu-a", 200, kT + 80), kT + 90);  // a pid reused by a new start
  const auto list = q->runners(kT + 90);
  EXPECT_EQ(list.at(0).restarts, 2u);
  EXPECT_EQ(list.at(0).pid, 200);
  EXPECT_EQ(list.at(0).started_ms, kT + 80);
}

TEST_P(QueueConformance, SilentRunnersAreLostAfterThreeLeasesAndDroppedAfterTen) {
  auto q = make({kLease, 0, 1 << 20});
  q->announce(runner("quiet", 1), kT);
  sdk::RunnerInfo stopped = runner("stopped", 2);
  stopped.state = "stopped";
  q->announce(stopped, kT);
  EXPECT_EQ(names(q->runners(kT + 3 * kLease)), (std::vector<std::string>{"quiet:idle", "stopped:stopped"}));
  EXPECT_EQ(names(q->runners(kT + 3 * kLease + 1)),
            (std::vector<std::string>{"quiet:lost", "stopped:stopped"}));
  EXPECT_EQ(names(q->runners(kT + 10 * kLease)), (std::vector<std::string>{"quiet:lost", "stopped:stopped"}));
  q->announce(runner("quiet", 1), kT + 10 * kLease);  // heard from again: no longer lost
  EXPECT_EQ(names(q->runners(kT + 10 * kLease + 1)), (std::vector<std::string>{"quiet:idle"}))
      << "'stopped', silent for more than 10 leases, is dropped";
  EXPECT_TRUE(q->runners(kT + 21 * kLease).empty());
}

TEST_P(QueueConformance, ARunnerWithoutANameIsRefused) {
  auto q = make({kLease, 0, 1 << 20});
  try {
    q->announce(runner("", 1), kT);
    FAIL() << "announce() took a runner without a name";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_THAT(e.what(), testing::HasSubstr("the runner has no name"));
  }
  EXPECT_TRUE(q->runners(kT).empty());
}

TEST_P(QueueConformance, RunnersOnAnotherInstanceAreListedThere) {
  if (!store().concurrent_instances()) GTEST_SKIP() << "one instance at a time: runners share its process";
  auto here = make({kLease, 0, 1 << 20});
  auto there = make({kLease, 0, 1 << 20});
  here->announce(runner("here", 1), kT);
  there->announce(runner("there", 2), kT);
  EXPECT_EQ(names(here->runners(kT)), (std::vector<std::string>{"here:idle", "there:idle"}));
  EXPECT_EQ(names(there->runners(kT)), (std::vector<std::string>{"here:idle", "there:idle"}));
}

}  // namespace
}  // namespace ftdr::test
