// The queue plugin contract (sdk/queue.hpp), for every plugin that instantiates QueueConformance
// (queue_conformance.hpp): order, leases and fencing, cancel, release, retention, depth, blobs,
// events, durability across a new instance, and concurrent claimers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "ftdr/sdk/error.hpp"
#include "queue/queue_conformance.hpp"

namespace ftdr::test {
namespace {

using sdk::LeaseState;
using sdk::Priority;
using sdk::QueueEventKind;
using testing::HasSubstr;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Claims until one comes (a lease just expired may take the plugin a moment to notice).
std::optional<sdk::Lease> claim_within(sdk::JobQueue& q, const std::string& worker, int seconds = 20) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (auto lease = q.claim(worker, 200)) return lease;
  }
  return std::nullopt;
}

std::vector<std::uint64_t> claim_all(sdk::JobQueue& q) {
  std::vector<std::uint64_t> ids;
  while (auto lease = q.claim("w", 0)) ids.push_back(lease->job.id);
  return ids;
}

TEST_P(QueueConformance, EnqueuedJobsAreListedQueuedOldestFirst) {
  auto q = make();
  const std::int64_t t = now_ms();
  const auto a = q->enqueue(R"({"prompt":"a"})", Priority::normal, t);
  const auto b = q->enqueue(R"({"prompt":"b"})", Priority::low, t + 1);
  EXPECT_GT(a, 0u);
  EXPECT_GT(b, a);
  const auto all = q->jobs();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, a);
  EXPECT_EQ(all[0].request, R"({"prompt":"a"})");
  EXPECT_EQ(all[0].priority, Priority::normal);
  EXPECT_EQ(all[0].state, "queued");
  EXPECT_EQ(all[0].created_ms, t);
  EXPECT_EQ(all[0].finished_ms, 0);
  EXPECT_EQ(all[0].claims, 0u);
  EXPECT_EQ(all[1].id, b);
  EXPECT_EQ(all[1].priority, Priority::low);
  ASSERT_TRUE(q->job(b).has_value());
  EXPECT_EQ(q->job(b)->request, R"({"prompt":"b"})");
  EXPECT_FALSE(q->job(b + 1000).has_value());
}

TEST_P(QueueConformance, ClaimsByPriorityThenSubmissionOrder) {
  auto q = make();
  const std::int64_t t = now_ms();
  const auto low = q->enqueue("{}", Priority::low, t);
  const auto n1 = q->enqueue("{}", Priority::normal, t);
  const auto urgent = q->enqueue("{}", Priority::urgent, t);
  const auto n2 = q->enqueue("{}", Priority::normal, t);
  const auto high = q->enqueue("{}", Priority::high, t);
  EXPECT_EQ(claim_all(*q), (std::vector<std::uint64_t>{urgent, high, n1, n2, low}));
  EXPECT_FALSE(q->claim("w", 50).has_value());
}

TEST_P(QueueConformance, AgedJobsCountAsMoreUrgent) {
  auto q = make({60000, /*aging_ms*/ 100, 1 << 20});
  const std::int64_t t = now_ms();
  const auto old_low = q->enqueue("{}", Priority::low, t - 10000);  // 100 levels of aging: urgent
  const auto fresh_high = q->enqueue("{}", Priority::high, t);
  EXPECT_EQ(claim_all(*q), (std::vector<std::uint64_t>{old_low, fresh_high}));
}

TEST_P(QueueConformance, WithoutAgingWaitingDoesNotPromote) {
  auto q = make();
  const std::int64_t t = now_ms();
  const auto old_low = q->enqueue("{}", Priority::low, t - 10000);
  const auto fresh_high = q->enqueue("{}", Priority::high, t);
  EXPECT_EQ(claim_all(*q), (std::vector<std::uint64_t>{fresh_high, old_low}));
}

TEST_P(QueueConformance, ALeaseNamesItsWorkerAndCountsClaims) {
  auto q = make();
  const auto id = q->enqueue(R"({"x":1})", Priority::high, now_ms());
  const auto lease = q->claim("host-a/42", 1000);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->job.id, id);
  EXPECT_EQ(lease->job.request, R"({"x":1})");
  EXPECT_EQ(lease->job.priority, Priority::high);
  EXPECT_EQ(lease->job.claims, 1u);
  EXPECT_EQ(lease->worker, "host-a/42");
  EXPECT_GT(lease->token, 0u);
  EXPECT_EQ(q->job(id)->worker, "host-a/42");
  EXPECT_EQ(q->job(id)->claims, 1u);
  EXPECT_EQ(q->renew(*lease), LeaseState::held);
  EXPECT_FALSE(q->claim("host-b/7", 50).has_value()) << "a held job is never handed out twice";
}

TEST_P(QueueConformance, ReportsUpdateTheStateAndReachObserversInOrder) {
  auto q = make();
  auto log = std::make_shared<QueueEventLog>();
  q->watch(log);
  const auto id = q->enqueue("{}", Priority::normal, now_ms());
  auto lease = q->claim("w", 1000);
  ASSERT_TRUE(lease);
  EXPECT_TRUE(q->report(*lease, {id, QueueEventKind::state, "encoding", 0, 0, ""}));
  EXPECT_EQ(q->job(id)->state, "encoding");
  EXPECT_TRUE(q->report(*lease, {id, QueueEventKind::progress, "", 3, 10, ""}));
  EXPECT_TRUE(q->report(*lease, {id, QueueEventKind::state, "diffusion", 0, 0, ""}));
  EXPECT_TRUE(q->set_job_dir(*lease, "/shared/jobs/x"));
  EXPECT_EQ(q->job(id)->job_dir, "/shared/jobs/x");
  EXPECT_TRUE(q->complete(*lease, "completed", R"({"images":1})", now_ms()));
  const auto events = log->wait_for(4);
  std::vector<sdk::QueueEvent> mine;
  for (const auto& e : events)
    if (e.job_id == id) mine.push_back(e);
  ASSERT_EQ(mine.size(), 4u);
  EXPECT_EQ(mine[0].kind, QueueEventKind::state);
  EXPECT_EQ(mine[0].state, "encoding");
  EXPECT_EQ(mine[1].kind, QueueEventKind::progress);
  EXPECT_EQ(mine[1].step, 3);
  EXPECT_EQ(mine[1].total, 10);
  EXPECT_EQ(mine[2].state, "diffusion");
  EXPECT_EQ(mine[3].kind, QueueEventKind::finished);
  EXPECT_EQ(mine[3].state, "completed");
  EXPECT_EQ(mine[3].detail, R"({"images":1})");
}

TEST_P(QueueConformance, CompletingIsFinalAndHappensOnce) {
  auto q = make();
  const auto id = q->enqueue("{}", Priority::normal, now_ms());
  auto lease = q->claim("w", 1000);
  ASSERT_TRUE(lease);
  const std::int64_t t = now_ms();
  EXPECT_TRUE(q->complete(*lease, "completed", R"({"ok":true})", t));
  const auto job = q->job(id);
  EXPECT_EQ(job->state, "completed");
  EXPECT_EQ(job->result, R"({"ok":true})");
  EXPECT_EQ(job->finished_ms, t);
  EXPECT_TRUE(job->finished());
  EXPECT_FALSE(q->complete(*lease, "failed", R"({"ok":false})", t + 5)) << "a second complete()";
  EXPECT_EQ(q->job(id)->state, "completed");
  EXPECT_EQ(q->job(id)->result, R"({"ok":true})");
  EXPECT_EQ(q->renew(*lease), LeaseState::lost);
  EXPECT_FALSE(q->claim("w", 50).has_value());
}

TEST_P(QueueConformance, AnExpiredLeaseGoesToTheNextRunnerAndTheLateResultIsDropped) {
  auto q = make({/*lease_ms*/ 300, 0, 1 << 20});
  const auto id = q->enqueue("{}", Priority::normal, now_ms());
  auto first = q->claim("slow", 1000);
  ASSERT_TRUE(first);
  auto second = claim_within(*q, "fast");  // once the first lease expired
  ASSERT_TRUE(second) << "the expired job was never handed out again";
  EXPECT_EQ(second->job.id, id);
  EXPECT_EQ(second->job.claims, 2u);
  EXPECT_GT(second->token, first->token);
  EXPECT_EQ(q->renew(*first), LeaseState::lost);
  EXPECT_FALSE(q->report(*first, {id, QueueEventKind::state, "decoding", 0, 0, ""}));
  EXPECT_FALSE(q->set_job_dir(*first, "/elsewhere"));
  EXPECT_FALSE(q->complete(*first, "completed", R"({"from":"slow"})", now_ms()));
  EXPECT_FALSE(q->job(id)->finished()) << "the late result counted";
  EXPECT_EQ(q->job(id)->worker, "fast");
  EXPECT_TRUE(q->complete(*second, "completed", R"({"from":"fast"})", now_ms()));
  EXPECT_EQ(q->job(id)->result, R"({"from":"fast"})");
  EXPECT_FALSE(q->release(*first));
}

TEST_P(QueueConformance, RenewingKeepsTheLease) {
  auto q = make({/*lease_ms*/ 400, 0, 1 << 20});
  q->enqueue("{}", Priority::normal, now_ms());
  auto lease = q->claim("w", 1000);
  ASSERT_TRUE(lease);
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_EQ(q->renew(*lease), LeaseState::held) << "renewal " << i;
    EXPECT_FALSE(q->claim("other", 0).has_value()) << "renewal " << i;
  }
}

TEST_P(QueueConformance, CancellingAQueuedJobEndsItAtOnce) {
  auto q = make();
  auto log = std::make_shared<QueueEventLog>();
  q->watch(log);
  const auto id = q->enqueue("{}", Priority::normal, now_ms());
  const std::int64_t t = now_ms();
  EXPECT_TRUE(q->cancel(id, R"({"error":"cancelled"})", t));
  EXPECT_EQ(q->job(id)->state, "cancelled");
  EXPECT_EQ(q->job(id)->result, R"({"error":"cancelled"})");
  EXPECT_EQ(q->job(id)->finished_ms, t);
  EXPECT_FALSE(q->claim("w", 50).has_value());
  EXPECT_FALSE(q->cancel(id, "{}", t)) << "already finished";
  EXPECT_FALSE(q->cancel(id + 1000, "{}", t)) << "unknown";
  const auto events = log->wait_for(1);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, QueueEventKind::finished);
  EXPECT_EQ(events.back().state, "cancelled");
}

TEST_P(QueueConformance, CancellingALeasedJobAsksItsRunner) {
  auto q = make();
  auto log = std::make_shared<QueueEventLog>();
  q->watch(log);
  const auto id = q->enqueue("{}", Priority::normal, now_ms());
  auto lease = q->claim("w", 1000);
  ASSERT_TRUE(lease);
  EXPECT_TRUE(q->cancel(id, "{}", now_ms()));
  EXPECT_TRUE(q->job(id)->cancel_requested);
  EXPECT_FALSE(q->job(id)->finished()) << "the runner ends it";
  EXPECT_EQ(q->renew(*lease), LeaseState::cancel_requested);
  const auto events = log->wait_for(1);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, QueueEventKind::cancel);
  EXPECT_EQ(events.back().job_id, id);
  EXPECT_TRUE(q->complete(*lease, "cancelled", R"({"stopped_at":4})", now_ms()));
  EXPECT_EQ(q->job(id)->state, "cancelled");
}

TEST_P(QueueConformance, AReleasedJobIsQueuedAgainWithItsFolder) {
  auto q = make();
  const auto id = q->enqueue("{}", Priority::normal, now_ms());
  auto lease = q->claim("w", 1000);
  ASSERT_TRUE(lease);
  ASSERT_TRUE(q->report(*lease, {id, QueueEventKind::state, "diffusion", 0, 0, ""}));
  ASSERT_TRUE(q->set_job_dir(*lease, "/jobs/7"));
  EXPECT_TRUE(q->release(*lease));
  EXPECT_EQ(q->job(id)->state, "queued");
  EXPECT_EQ(q->renew(*lease), LeaseState::lost);
  auto again = q->claim("w2", 1000);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->job.id, id);
  EXPECT_EQ(again->job.job_dir, "/jobs/7");
  EXPECT_EQ(again->job.claims, 2u);
  EXPECT_GT(again->token, lease->token);
}

TEST_P(QueueConformance, RemovedJobsAreGone) {
  auto q = make();
  const auto id = q->enqueue("{}", Priority::normal, now_ms());
  q->remove(id);
  q->remove(id + 1000);  // unknown: ignored
  EXPECT_FALSE(q->job(id).has_value());
  EXPECT_TRUE(q->jobs().empty());
  EXPECT_FALSE(q->claim("w", 50).has_value());
}

TEST_P(QueueConformance, ForgettingKeepsTheNewestFinishedJobs) {
  auto q = make();
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(q->enqueue("{}", Priority::normal, now_ms()));
  for (int i = 0; i < 3; ++i) {
    auto lease = q->claim("w", 1000);
    ASSERT_TRUE(lease);
    q->put_blob(lease->job.id, "image-0.png", "png bytes");
    ASSERT_TRUE(q->complete(*lease, "completed", "{}", now_ms() + i));
  }
  EXPECT_EQ(q->forget_finished(1), (std::vector<std::uint64_t>{ids[0], ids[1]}));
  EXPECT_FALSE(q->job(ids[0]).has_value());
  EXPECT_FALSE(q->get_blob(ids[0], "image-0.png").has_value()) << "its blobs go with it";
  EXPECT_TRUE(q->job(ids[2]).has_value());
  EXPECT_TRUE(q->job(ids[3]).has_value()) << "unfinished jobs are never forgotten";
  EXPECT_TRUE(q->forget_finished(1).empty());
}

TEST_P(QueueConformance, DepthCountsWaitingJobsPerPriority) {
  auto q = make();
  const std::int64_t t = now_ms();
  q->enqueue("{}", Priority::low, t - 500);
  q->enqueue("{}", Priority::low, t);
  q->enqueue("{}", Priority::urgent, t - 100);
  q->enqueue("{}", Priority::normal, t);
  auto lease = q->claim("w", 1000);  // the urgent one: no longer waiting
  ASSERT_TRUE(lease);
  const sdk::QueueDepth d = q->depth();
  EXPECT_EQ(d.waiting[0], 0u);
  EXPECT_EQ(d.waiting[1], 0u);
  EXPECT_EQ(d.waiting[2], 1u);
  EXPECT_EQ(d.waiting[3], 2u);
  EXPECT_EQ(d.oldest_ms[0], 0);
  EXPECT_EQ(d.oldest_ms[2], t);
  EXPECT_EQ(d.oldest_ms[3], t - 500);
}

TEST_P(QueueConformance, BlobsAreStoredReplacedAndCapped) {
  auto q = make({60000, 0, /*blob_max_bytes*/ 1000});
  const auto id = q->enqueue("{}", Priority::normal, now_ms());
  const std::string binary("\0\x01\xff png", 7);
  q->put_blob(id, "latents_i0_step4.ckpt", binary);
  q->put_blob(id, "image-0.png", "first");
  q->put_blob(id, "image-0.png", "second");
  EXPECT_EQ(q->get_blob(id, "latents_i0_step4.ckpt"), binary);
  EXPECT_EQ(q->get_blob(id, "image-0.png"), "second");
  EXPECT_FALSE(q->get_blob(id, "missing").has_value());
  auto names = q->blob_names(id);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"image-0.png", "latents_i0_step4.ckpt"}));
  try {
    q->put_blob(id, "big.ckpt", std::string(1001, 'x'));
    ADD_FAILURE() << "a blob over the cap was stored";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_THAT(e.what(), HasSubstr("blob_max_bytes"));
    EXPECT_THAT(e.what(), HasSubstr("1001"));
  }
  EXPECT_FALSE(q->get_blob(id, "big.ckpt").has_value());
}

TEST_P(QueueConformance, ANewInstanceKeepsEveryJob) {
  std::uint64_t queued = 0, leased = 0, done = 0;
  {
    auto q = make({/*lease_ms*/ 300, 0, 1 << 20});
    done = q->enqueue(R"({"n":1})", Priority::normal, now_ms());
    leased = q->enqueue(R"({"n":2})", Priority::normal, now_ms());
    queued = q->enqueue(R"({"n":3})", Priority::low, now_ms());
    auto a = q->claim("w", 1000);
    ASSERT_TRUE(a);
    ASSERT_TRUE(q->complete(*a, "completed", R"({"ok":1})", now_ms()));
    auto b = q->claim("w", 1000);
    ASSERT_TRUE(b);
    ASSERT_EQ(b->job.id, leased);
    ASSERT_TRUE(q->set_job_dir(*b, "/jobs/2"));
  }  // the process "dies" holding b's lease
  auto q = make({300, 0, 1 << 20});
  std::this_thread::sleep_for(std::chrono::milliseconds(450));  // b's lease has expired everywhere
  EXPECT_EQ(q->job(done)->state, "completed");
  EXPECT_EQ(q->job(done)->result, R"({"ok":1})");
  auto first = claim_within(*q, "w2");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->job.id, leased) << "the leased job runs again (normal before low)";
  EXPECT_EQ(first->job.job_dir, "/jobs/2");
  auto second = claim_within(*q, "w2");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->job.id, queued);
  EXPECT_GT(q->enqueue("{}", Priority::normal, now_ms()), queued) << "ids are never reused";
}

TEST_P(QueueConformance, ConcurrentRunnersGetEveryJobExactlyOnce) {
  auto q = make();
  std::set<std::uint64_t> submitted;
  for (int i = 0; i < 40; ++i) submitted.insert(q->enqueue("{}", Priority::normal, now_ms()));
  std::mutex mutex;
  std::multiset<std::uint64_t> claimed;
  std::vector<std::thread> runners;
  for (int r = 0; r < 4; ++r) {
    runners.emplace_back([&, r] {
      auto mine = store().concurrent_instances() ? make() : q;  // another machine, where it can be
      while (auto lease = mine->claim("runner-" + std::to_string(r), 100)) {
        ASSERT_TRUE(mine->complete(*lease, "completed", "{}", now_ms()));
        std::lock_guard<std::mutex> lock(mutex);
        claimed.insert(lease->job.id);
      }
    });
  }
  for (auto& t : runners) t.join();
  EXPECT_EQ(claimed.size(), submitted.size());
  EXPECT_EQ(std::set<std::uint64_t>(claimed.begin(), claimed.end()), submitted);
}

TEST_P(QueueConformance, AWaitingClaimTakesAJobEnqueuedMeanwhile) {
  auto q = make();
  std::optional<sdk::Lease> got;
  std::thread waiter([&] { got = q->claim("w", 20000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto id = q->enqueue("{}", Priority::normal, now_ms());
  waiter.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->job.id, id);
}

TEST_P(QueueConformance, AnotherInstanceSeesTheEventsOfJobsItDidNotRun) {
  if (!store().concurrent_instances()) GTEST_SKIP() << GetParam().name << ": one instance at a time";
  auto server = make();
  auto runner = make();
  auto log = std::make_shared<QueueEventLog>();
  server->watch(log);
  const auto id = server->enqueue("{}", Priority::normal, now_ms());
  auto lease = runner->claim("elsewhere/1", 1000);
  ASSERT_TRUE(lease);
  ASSERT_TRUE(runner->report(*lease, {id, QueueEventKind::progress, "", 1, 2, ""}));
  ASSERT_TRUE(runner->complete(*lease, "completed", R"({"ok":1})", now_ms()));
  const auto events = log->wait_for(2);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2].kind, QueueEventKind::progress);
  EXPECT_EQ(events.back().kind, QueueEventKind::finished);
  EXPECT_EQ(server->job(id)->state, "completed");
}

}  // namespace

// Each plugin instantiates the suite in its own file (local_queue_test.cpp, redis_queue_test.cpp).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(QueueConformance);

}  // namespace ftdr::test
