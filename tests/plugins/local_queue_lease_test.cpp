// The `local` queue's leases: claim order (priority, aging, submission), fencing tokens (a stale
// lease changes nothing), cancel of a waiting and of a leased job, release, events in order, the
// blob cap, depth, and claim() waiting for a job.
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugins/local_queue_test_support.hpp"
#include "plugins/plugin_test_support.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;

std::uint64_t claimed_id(lq::LocalQueue& q) {
  const auto lease = q.claim("w", 0);
  return lease ? lease->job.id : 0;
}

TEST(LocalQueueLeases, ClaimsByPriorityThenBySubmission) {
  lq::LocalQueue q(queue_settings(fresh_journal("order")));
  const auto low1 = q.enqueue("{}", sdk::Priority::low, 1);
  const auto low2 = q.enqueue("{}", sdk::Priority::low, 2);
  const auto normal = q.enqueue("{}", sdk::Priority::normal, 3);
  const auto urgent = q.enqueue("{}", sdk::Priority::urgent, 4);
  EXPECT_EQ(claimed_id(q), urgent);
  EXPECT_EQ(claimed_id(q), normal);
  EXPECT_EQ(claimed_id(q), low1);
  EXPECT_EQ(claimed_id(q), low2);
  EXPECT_EQ(claimed_id(q), 0u);  // all leased
}

// With aging_ms = 1000, a LOW job that waited 1.5 s counts as NORMAL (after a new HIGH job, before a
// NORMAL job submitted after it); one that waited 2.5 s counts as HIGH (before a newer HIGH job).
TEST(LocalQueueLeases, AgingPromotesAJobOneLevelPerAgingPeriod) {
  lq::LocalQueue q(queue_settings(fresh_journal("aging"), 30000, 1000));
  const std::int64_t now = now_ms();
  const auto old_low = q.enqueue("{}", sdk::Priority::low, now - 1500);    // 1 level up: normal
  const auto older_low = q.enqueue("{}", sdk::Priority::low, now - 2500);  // 2 levels up: high
  const auto normal = q.enqueue("{}", sdk::Priority::normal, now);
  const auto high = q.enqueue("{}", sdk::Priority::high, now);
  EXPECT_EQ(claimed_id(q), older_low);  // as high, submitted before the high job
  EXPECT_EQ(claimed_id(q), high);
  EXPECT_EQ(claimed_id(q), old_low);  // as normal, submitted before the normal job
  EXPECT_EQ(claimed_id(q), normal);
}

TEST(LocalQueueLeases, AStaleLeaseIsRefusedAndChangesNothing) {
  lq::LocalQueue q(queue_settings(fresh_journal("fencing"), 100));
  const auto id = q.enqueue("{}", sdk::Priority::normal, 1);
  const auto first = q.claim("host-a/1", 0);
  ASSERT_TRUE(first);
  // The first runner falls silent; once its lease ends the job is claimable again.
  const auto second = q.claim("host-b/2", 10000);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->job.id, id);
  EXPECT_EQ(second->token, first->token + 1);
  EXPECT_EQ(second->job.claims, 2u);
  EXPECT_EQ(q.renew(*first), sdk::LeaseState::lost);
  EXPECT_FALSE(q.report(*first, {id, sdk::QueueEventKind::state, "decoding", 0, 0, ""}));
  EXPECT_FALSE(q.set_job_dir(*first, "/stale"));
  EXPECT_FALSE(q.complete(*first, "completed", "{\"late\":true}", 5));
  EXPECT_FALSE(q.release(*first));
  EXPECT_EQ(q.job(id)->worker, "host-b/2");
  EXPECT_EQ(q.job(id)->job_dir, "");
  EXPECT_EQ(q.renew(*second), sdk::LeaseState::held);
  EXPECT_TRUE(q.complete(*second, "completed", "{\"late\":false}", 6));
  EXPECT_EQ(q.job(id)->result, "{\"late\":false}");
  EXPECT_FALSE(q.complete(*second, "failed", "{}", 7));  // once only
  EXPECT_EQ(q.job(id)->state, "completed");
}

TEST(LocalQueueLeases, CancelEndsAWaitingJobAndAsksTheRunnerOfALeasedOne) {
  lq::LocalQueue q(queue_settings(fresh_journal("cancel")));
  auto log = std::make_shared<QueueEventLog>();
  q.watch(log);
  const auto running = q.enqueue("{}", sdk::Priority::normal, 1);
  const auto waiting = q.enqueue("{}", sdk::Priority::normal, 2);
  const auto lease = q.claim("w", 0);
  ASSERT_TRUE(lease);
  EXPECT_TRUE(q.cancel(waiting, "{\"why\":\"client\"}", 10));
  EXPECT_EQ(q.job(waiting)->state, "cancelled");
  EXPECT_EQ(q.job(waiting)->finished_ms, 10);
  EXPECT_FALSE(q.cancel(waiting, "{}", 11));  // finished
  EXPECT_FALSE(q.cancel(12345, "{}", 11));    // unknown
  EXPECT_TRUE(q.cancel(running, "{}", 12));
  EXPECT_EQ(q.job(running)->state, "queued");  // still its runner's until it completes
  EXPECT_TRUE(q.job(running)->cancel_requested);
  EXPECT_EQ(q.renew(*lease), sdk::LeaseState::cancel_requested);
  EXPECT_TRUE(q.complete(*lease, "cancelled", "{\"by\":\"runner\"}", 13));
  const auto events = log->wait_for(3);
  EXPECT_EQ(events[0].job_id, waiting);
  EXPECT_EQ(events[0].kind, sdk::QueueEventKind::finished);
  EXPECT_EQ(events[0].detail, "{\"why\":\"client\"}");
  EXPECT_EQ(events[1].job_id, running);
  EXPECT_EQ(events[1].kind, sdk::QueueEventKind::cancel);
  EXPECT_EQ(events[2].kind, sdk::QueueEventKind::finished);
  EXPECT_EQ(events[2].state, "cancelled");
}

TEST(LocalQueueLeases, ReleaseGivesTheJobBackWithItsFolder) {
  lq::LocalQueue q(queue_settings(fresh_journal("release")));
  const auto id = q.enqueue("{}", sdk::Priority::normal, 1);
  const auto lease = q.claim("w/1", 0);
  ASSERT_TRUE(lease);
  ASSERT_TRUE(q.set_job_dir(*lease, "/state/jobs/1"));
  EXPECT_EQ(q.depth().waiting[2], 0u);
  EXPECT_TRUE(q.release(*lease));
  EXPECT_EQ(q.depth().waiting[2], 1u);
  EXPECT_EQ(q.renew(*lease), sdk::LeaseState::lost);
  const auto again = q.claim("w/2", 0);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->job.id, id);
  EXPECT_EQ(again->job.job_dir, "/state/jobs/1");
  EXPECT_EQ(again->job.state, "queued");
}

TEST(LocalQueueLeases, EventsReachObserversInTheOrderTheyHappened) {
  lq::LocalQueue q(queue_settings(fresh_journal("events")));
  auto log = std::make_shared<QueueEventLog>();
  q.watch(log);
  const auto id = q.enqueue("{}", sdk::Priority::normal, 1);
  const auto lease = q.claim("w", 0);
  ASSERT_TRUE(lease);
  ASSERT_TRUE(q.report(*lease, {id, sdk::QueueEventKind::state, "encoding", 0, 0, ""}));
  for (int step = 1; step <= 20; ++step)
    ASSERT_TRUE(q.report(*lease, {id, sdk::QueueEventKind::progress, "", step, 20, ""}));
  ASSERT_TRUE(q.complete(*lease, "completed", "{}", 2));
  const auto events = log->wait_for(22);
  EXPECT_EQ(events[0].state, "encoding");
  for (int step = 1; step <= 20; ++step) EXPECT_EQ(events[static_cast<std::size_t>(step)].step, step);
  EXPECT_EQ(events[21].kind, sdk::QueueEventKind::finished);
  EXPECT_EQ(q.job(id)->state, "completed");
  EXPECT_THAT(
      [&] {
        q.report(*lease, {id, sdk::QueueEventKind::finished, "completed", 0, 0, ""});
      },
      ::testing::ThrowsMessage<sdk::Error>(HasSubstr("report(): only state and progress events")));
}

TEST(LocalQueueLeases, BlobsBeyondTheCapAreRefusedNamingIt) {
  lq::LocalQueue q(queue_settings(fresh_journal("blobs")));  // blob_max_bytes = 1024
  const auto id = q.enqueue("{}", sdk::Priority::normal, 1);
  const std::string bytes("\0\x01\xff binary", 10);
  q.put_blob(id, "b", bytes);
  q.put_blob(id, "a", std::string(1024, 'x'));
  EXPECT_EQ(q.get_blob(id, "b"), bytes);
  EXPECT_EQ(q.blob_names(id), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(q.get_blob(id, "c"));
  EXPECT_THAT([&] { q.put_blob(id, "big", std::string(1025, 'x')); },
              ::testing::ThrowsMessage<sdk::Error>(
                  HasSubstr("blob 'big' of job 1 has 1025 bytes, over [queue.local] blob_max_bytes (1024)")));
}

TEST(LocalQueueLeases, DepthCountsWaitingJobsAndTheOldestPerPriority) {
  lq::LocalQueue q(queue_settings(fresh_journal("depth")));
  q.enqueue("{}", sdk::Priority::urgent, 100);
  q.enqueue("{}", sdk::Priority::low, 200);
  q.enqueue("{}", sdk::Priority::low, 300);
  ASSERT_TRUE(q.claim("w", 0));  // the urgent one: no longer waiting
  const sdk::QueueDepth d = q.depth();
  EXPECT_EQ(d.waiting[0], 0u);
  EXPECT_EQ(d.oldest_ms[0], 0);
  EXPECT_EQ(d.waiting[3], 2u);
  EXPECT_EQ(d.oldest_ms[3], 200);
}

TEST(LocalQueueLeases, ClaimWaitsForAJobToArrive) {
  lq::LocalQueue q(queue_settings(fresh_journal("wait")));
  std::optional<sdk::Lease> got;
  std::thread runner([&] { got = q.claim("w", 60000); });
  const auto id = q.enqueue("{}", sdk::Priority::normal, 1);
  runner.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->job.id, id);
  EXPECT_EQ(got->worker, "w");
}

TEST(LocalQueuePlugin, ReadsItsTableAndRejectsBadValuesByKey) {
  const auto file = fresh_journal("plugin");
  auto config = std::make_shared<FakeConfig>(
      std::map<std::string, FakeConfig::Value>{{"file", file.string()}, {"lease_ms", std::int64_t{5000}}});
  auto loaded = load_plugin("local", config);
  EXPECT_EQ(loaded->descriptor->kind, sdk::PluginKind::queue);
  auto* queue = dynamic_cast<sdk::JobQueue*>(loaded->object.get());
  ASSERT_NE(queue, nullptr);
  queue->enqueue("{}", sdk::Priority::normal, 1);
  EXPECT_TRUE(std::filesystem::exists(file));
  auto bad =
      std::make_shared<FakeConfig>(std::map<std::string, FakeConfig::Value>{{"lease_ms", std::int64_t{99}}});
  EXPECT_THAT([&] { load_plugin("local", bad); },
              ::testing::ThrowsMessage<sdk::Error>(
                  HasSubstr("test.toml: key 'lease_ms': expected a lease duration in milliseconds >= 100")));
}

}  // namespace
}  // namespace ftdr::test
