// The `redis` queue plugin across "machines": several plugin instances (each its own connections and
// event reader) on one real redis-server, loaded through the framework's plugin loader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/queue_events.hpp"
#include "ftdr/sdk/error.hpp"
#include "queue/redis_queue_support.hpp"

namespace ftdr::test {
namespace {

using sdk::Priority;
using sdk::QueueEventKind;
using testing::HasSubstr;

class RedisQueueTest : public testing::Test {
 protected:
  void SetUp() override {
    FTDR_REQUIRE_REDIS();
    redis_ = std::make_unique<RedisServer>();
  }
  std::shared_ptr<sdk::JobQueue> machine(const std::string& extra = "") {
    return load_redis_queue(redis_table(*redis_, "t", extra));
  }
  std::unique_ptr<RedisServer> redis_;
};

TEST_F(RedisQueueTest, TheLoaderReadsEveryDocumentedKeyAndRefusesAMisspeltOne) {
  EXPECT_NO_THROW(
      machine("lease_ms = 5000\naging_ms = 1000\nblob_max_bytes = 4096\nconnect_timeout_ms = 800\n"
              "command_timeout_ms = 3000\nreconnect_max_ms = 4000\npassword = \"\"\n"));
  try {
    machine("lease_msec = 5000\n");
    ADD_FAILURE() << "a misspelt key passed";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::plugin_error);
    EXPECT_THAT(e.what(), HasSubstr("lease_msec"));
  }
}

TEST_F(RedisQueueTest, ThreeMachinesRunSixtyJobsOfMixedPriorityExactlyOnce) {
  auto server = machine();
  std::set<std::uint64_t> submitted;
  const Priority levels[] = {Priority::low, Priority::urgent, Priority::normal, Priority::high};
  for (int i = 0; i < 60; ++i) submitted.insert(server->enqueue("{}", levels[i % 4], wall_ms()));
  std::mutex mutex;
  std::multiset<std::uint64_t> ran;
  std::vector<std::thread> runners;
  for (int m = 0; m < 3; ++m) {
    runners.emplace_back([&, m] {
      auto q = machine();
      const std::string me = "machine-" + std::to_string(m) + "/1";
      while (auto lease = q->claim(me, 300)) {
        EXPECT_TRUE(q->report(*lease, {lease->job.id, QueueEventKind::state, "diffusion", 0, 0, ""}));
        EXPECT_TRUE(q->complete(*lease, "completed", R"({"by":")" + me + "\"}", wall_ms()));
        std::lock_guard<std::mutex> lock(mutex);
        ran.insert(lease->job.id);
      }
    });
  }
  for (auto& t : runners) t.join();
  EXPECT_EQ(ran.size(), 60u) << "a job ran twice or not at all";
  EXPECT_EQ(std::set<std::uint64_t>(ran.begin(), ran.end()), submitted);
  for (const auto& job : server->jobs()) {
    EXPECT_EQ(job.state, "completed") << job.id;
    EXPECT_EQ(job.claims, 1u) << job.id;
    EXPECT_EQ(job.result, R"({"by":")" + job.worker + "\"}") << job.id;
  }
}

TEST_F(RedisQueueTest, AWatcherOnAnotherMachineSeesEveryEventInOrder) {
  auto server = machine();
  auto runner = machine();
  auto events = std::make_shared<QueueEventLog>();
  server->watch(events);
  const auto id = server->enqueue(R"({"prompt":"a fox"})", Priority::normal, wall_ms());
  auto lease = runner->claim("gpu-box/77", 5000);
  ASSERT_TRUE(lease);
  ASSERT_TRUE(runner->report(*lease, {id, QueueEventKind::state, "initializing", 0, 0, ""}));
  for (int step = 1; step <= 3; ++step)
    ASSERT_TRUE(runner->report(*lease, {id, QueueEventKind::progress, "", step, 3, ""}));
  ASSERT_TRUE(runner->report(*lease, {id, QueueEventKind::state, "decoding", 0, 0, R"({"tiles":4})"}));
  ASSERT_TRUE(runner->complete(*lease, "completed", R"({"images":["a.png"]})", wall_ms()));
  const auto seen = events->wait_for(6);
  ASSERT_EQ(seen.size(), 6u);
  for (const auto& e : seen) EXPECT_EQ(e.job_id, id);
  EXPECT_EQ(seen[0].kind, QueueEventKind::state);
  EXPECT_EQ(seen[0].state, "initializing");
  for (int step = 1; step <= 3; ++step) {
    EXPECT_EQ(seen[static_cast<std::size_t>(step)].kind, QueueEventKind::progress);
    EXPECT_EQ(seen[static_cast<std::size_t>(step)].step, step);
    EXPECT_EQ(seen[static_cast<std::size_t>(step)].total, 3);
  }
  EXPECT_EQ(seen[4].state, "decoding");
  EXPECT_EQ(seen[4].detail, R"({"tiles":4})");
  EXPECT_EQ(seen[5].kind, QueueEventKind::finished);
  EXPECT_EQ(seen[5].state, "completed");
  EXPECT_EQ(seen[5].detail, R"({"images":["a.png"]})");
  EXPECT_EQ(server->job(id)->worker, "gpu-box/77");
}

// Records events; the first one holds the plugin's reading thread until open() (a watcher far behind).
class HeldAtFirstEvent final : public sdk::QueueObserver {
 public:
  void on_event(const sdk::QueueEvent& event) override {
    std::unique_lock<std::mutex> lock(mutex_);
    events_.push_back(event);
    changed_.notify_all();
    if (events_.size() == 1) changed_.wait_for(lock, std::chrono::seconds(60), [&] { return open_; });
  }
  bool wait_for(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(20), [&] { return events_.size() >= count; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  std::vector<sdk::QueueEvent> events() {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<sdk::QueueEvent> events_;
  bool open_ = false;
};

// The event log keeps about 10000 entries. A watcher held up while 12000 are written finds the ones
// it did not read trimmed: it gets each job's state from its hash instead (never an older event
// after a newer one), and nothing is lost: the finished job's result, the cancel, the waiting job.
TEST_F(RedisQueueTest, AWatcherOvertakenByTheTrimmedLogCatchesUpFromTheJobs) {
  auto server = machine();
  auto runner = machine();
  auto events = std::make_shared<HeldAtFirstEvent>();
  server->watch(events);
  const auto a = server->enqueue("{}", Priority::normal, wall_ms());
  const auto b = server->enqueue("{}", Priority::normal, wall_ms());
  const auto c = server->enqueue("{}", Priority::normal, wall_ms());
  auto lease_a = runner->claim("w/1", 0);
  ASSERT_TRUE(lease_a && lease_a->job.id == a);
  ASSERT_TRUE(runner->report(*lease_a, {a, QueueEventKind::state, "encoding", 0, 0, ""}));
  ASSERT_TRUE(events->wait_for(1));
  for (int step = 1; step <= 12000; ++step)
    ASSERT_TRUE(runner->report(*lease_a, {a, QueueEventKind::progress, "", step, 12000, ""}));
  ASSERT_TRUE(runner->complete(*lease_a, "completed", R"({"images":["a.png"]})", wall_ms()));
  auto lease_b = runner->claim("w/1", 0);
  ASSERT_TRUE(lease_b && lease_b->job.id == b);
  ASSERT_TRUE(runner->report(*lease_b, {b, QueueEventKind::state, "diffusion", 0, 0, ""}));
  ASSERT_TRUE(server->cancel(b, "{}", wall_ms()));
  events->open();
  ASSERT_TRUE(events->wait_for(5)) << "the watcher did not catch up";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing else may follow
  const auto seen = events->events();
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[1].job_id, a);
  EXPECT_EQ(seen[1].kind, QueueEventKind::finished);
  EXPECT_EQ(seen[1].state, "completed");
  EXPECT_EQ(seen[1].detail, R"({"images":["a.png"]})");
  EXPECT_EQ(seen[2].job_id, b);
  EXPECT_EQ(seen[2].kind, QueueEventKind::state);
  EXPECT_EQ(seen[2].state, "diffusion");
  EXPECT_EQ(seen[3].job_id, b);
  EXPECT_EQ(seen[3].kind, QueueEventKind::cancel);
  EXPECT_EQ(seen[4].job_id, c);
  EXPECT_EQ(seen[4].kind, QueueEventKind::state);
  EXPECT_EQ(seen[4].state, "queued");
}

// Another program's entries in the event log (not an event's JSON, another field) are passed over
// with a warning; the events after them still arrive.
TEST_F(RedisQueueTest, AForeignEntryInTheEventLogIsPassedOver) {
  auto server = machine();
  auto runner = machine();
  auto events = std::make_shared<QueueEventLog>();
  server->watch(events);
  const std::string cli = "redis-cli -p " + std::to_string(redis_->port()) + " XADD t:event_log '*' ";
  ASSERT_EQ(std::system((cli + "e 'not json' > /dev/null").c_str()), 0);
  ASSERT_EQ(std::system((cli + "other 1 > /dev/null").c_str()), 0);
  const auto id = server->enqueue("{}", Priority::normal, wall_ms());
  auto lease = runner->claim("w/1", 0);
  ASSERT_TRUE(lease);
  ASSERT_TRUE(runner->report(*lease, {id, QueueEventKind::state, "encoding", 0, 0, ""}));
  const auto seen = events->wait_for(1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].job_id, id);
  EXPECT_EQ(seen[0].state, "encoding");
}

TEST_F(RedisQueueTest, AJobWhoseMachineFellSilentRunsOnAnotherAndTheLateResultIsDropped) {
  auto silent = machine("lease_ms = 300\n");
  auto live = machine("lease_ms = 300\n");
  const auto id = silent->enqueue("{}", Priority::high, wall_ms());
  auto first = silent->claim("silent/1", 5000);
  ASSERT_TRUE(first);
  ASSERT_TRUE(silent->set_job_dir(*first, "/shared/jobs/1"));
  silent->put_blob(id, "latents_step4.ckpt", std::string("\x01\x00\x02", 3));
  auto second = live->claim("live/2", 20000);  // waits until the silent lease expired
  ASSERT_TRUE(second);
  EXPECT_EQ(second->job.id, id);
  EXPECT_EQ(second->job.claims, 2u);
  EXPECT_EQ(second->job.job_dir, "/shared/jobs/1");
  EXPECT_EQ(live->get_blob(id, "latents_step4.ckpt"), std::string("\x01\x00\x02", 3));
  EXPECT_FALSE(silent->complete(*first, "completed", R"({"late":true})", wall_ms()));
  EXPECT_EQ(silent->renew(*first), sdk::LeaseState::lost);
  EXPECT_FALSE(live->job(id)->finished());
  EXPECT_TRUE(live->complete(*second, "completed", R"({"late":false})", wall_ms()));
  EXPECT_EQ(silent->job(id)->result, R"({"late":false})");
}

TEST_F(RedisQueueTest, AReleasedJobKeepsItsPlaceInLine) {
  auto q = machine();
  const auto first = q->enqueue("{}", Priority::normal, wall_ms());
  const auto second = q->enqueue("{}", Priority::normal, wall_ms());
  auto lease = q->claim("w/1", 1000);
  ASSERT_TRUE(lease);
  ASSERT_EQ(lease->job.id, first);
  ASSERT_TRUE(q->release(*lease));
  EXPECT_FALSE(q->release(*lease)) << "a second release() of the same lease";
  EXPECT_EQ(q->depth().waiting[2], 2u);
  EXPECT_EQ(q->job(first)->worker, "");
  auto again = q->claim("w/2", 1000);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->job.id, first) << "released, not sent to the back";
  auto next = q->claim("w/2", 1000);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->job.id, second);
}

TEST_F(RedisQueueTest, PutBlobNeedsAJobAndQueuesWithOtherPrefixesStayApart) {
  auto q = machine();
  try {
    q->put_blob(999, "image-0.png", "x");
    ADD_FAILURE() << "a blob of an unknown job was stored";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_STREQ(e.what(), "redis queue: put_blob(): job 999 is not in the queue");
  }
  auto other = load_redis_queue(redis_table(*redis_, "other"));
  q->enqueue("{}", Priority::normal, wall_ms());
  EXPECT_TRUE(other->jobs().empty());
  EXPECT_FALSE(other->claim("w/1", 0).has_value());
}

}  // namespace
}  // namespace ftdr::test
