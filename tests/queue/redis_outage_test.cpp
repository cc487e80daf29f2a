// The `redis` queue when Redis is away: unreachable at start, restarted (appendonly) between enqueue
// and claim, stopped for 10 s while a claimer waits and a server enqueues, gone past the budget.
// A killed Redis must not kill the process through SIGPIPE. Waits are bounded (a hang fails the
// test); no assertion is about speed except "not a hang".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <thread>

#include "common/queue_events.hpp"
#include "ftdr/sdk/error.hpp"
#include "queue/redis_queue_support.hpp"

namespace ftdr::test {
namespace {

using sdk::Priority;
using sdk::QueueEventKind;
using testing::HasSubstr;
using testing::Not;

class Finished : public sdk::QueueObserver {
 public:
  void on_event(const sdk::QueueEvent& e) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (e.kind == QueueEventKind::finished) ids_.push_back(e.job_id);
    cv_.notify_all();
  }
  bool wait_for(std::uint64_t id) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(30),
                        [&] { return std::find(ids_.begin(), ids_.end(), id) != ids_.end(); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::uint64_t> ids_;
};

TEST(RedisOutage, AnUnreachableUrlFailsAtStartNamingItAndNotThePassword) {
  FTDR_REQUIRE_REDIS();
  int port = 0;
  {
    RedisServer gone;  // its port, free again once it is gone
    port = gone.port();
  }
  const std::string url = "redis://:hunter2@127.0.0.1:" + std::to_string(port) + "/0";
  const std::string why = create_error("url = \"" + url + "\"\nconnect_timeout_ms = 500\n");
  EXPECT_THAT(why,
              HasSubstr("redis queue: cannot reach Redis at redis://127.0.0.1:" + std::to_string(port) +
                        "/0 (/cfg/redis.toml:2:7: key 'queue.redis.url') within connect_timeout_ms = 500: "
                        "connecting: Connection refused"));
  EXPECT_THAT(why, Not(HasSubstr("hunter2")));
}

TEST(RedisOutage, ARedisThatAnswersNothingFailsWithinTheConnectTimeout) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis;
  redis.pause();  // the kernel still accepts connections; nothing answers
  const auto start = std::chrono::steady_clock::now();
  const std::string why = create_error(redis_table(redis, "t", "connect_timeout_ms = 500\n"));
  const auto took = std::chrono::steady_clock::now() - start;
  redis.resume();
  EXPECT_THAT(
      why, HasSubstr("cannot reach Redis at " + redis.url().substr(0, redis.url().size() - 2) +
                     "/0 (/cfg/redis.toml:2:7: key 'queue.redis.url') within connect_timeout_ms = 500: PING: "
                     "no reply within 500 ms"));
  EXPECT_LT(took, std::chrono::seconds(10)) << "create() hung instead of failing";
}

TEST(RedisOutage, APasswordComesFromTheEnvironmentAndAWrongOneIsRefused) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(/*appendonly*/ false, "s3cret-pw");
  ::setenv("FTDR_TEST_REDIS_PW", "s3cret-pw", 1);
  auto q = load_redis_queue(redis_table(redis, "t", "password_env = \"FTDR_TEST_REDIS_PW\"\n"));
  EXPECT_GT(q->enqueue("{}", Priority::normal, wall_ms()), 0u);
  const std::string wrong = create_error(redis_table(redis, "t", "password = \"guess\"\n"));
  EXPECT_THAT(wrong, HasSubstr("refused the password"));
  EXPECT_THAT(wrong, HasSubstr("WRONGPASS"));
  EXPECT_THAT(create_error(redis_table(redis, "t")),
              HasSubstr("needs a password: set [queue.redis] password_env"));
}

TEST(RedisOutage, JobsSurviveARedisKilledBetweenEnqueueAndClaim) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(/*appendonly*/ true);
  auto server = load_redis_queue(redis_table(redis, "t"));
  std::vector<std::uint64_t> ids;
  const Priority levels[] = {Priority::low, Priority::normal, Priority::urgent};
  for (auto level : levels) ids.push_back(server->enqueue(R"({"n":1})", level, wall_ms()));
  redis.kill();  // SIGKILL: only what was fsynced (appendfsync always) comes back
  redis.start();
  EXPECT_EQ(server->jobs().size(), 3u);
  auto runner = load_redis_queue(redis_table(redis, "t"));
  std::vector<std::uint64_t> claimed;
  while (auto lease = server->claim("w/1", 0)) claimed.push_back(lease->job.id);
  EXPECT_EQ(claimed, (std::vector<std::uint64_t>{ids[2], ids[1], ids[0]}));
  EXPECT_GT(runner->enqueue("{}", Priority::normal, wall_ms()), ids[2]) << "ids are never reused";
}

// Redis stops answering (SIGSTOP) for 10 s while a runner waits in claim() and the server
// enqueues: the server's enqueue times out, reconnects and retries until Redis answers; Redis then
// also runs the enqueue it had received before, and the retry must not make that a second job.
TEST(RedisOutage, AClaimerAndAServerRideOutTenSecondsOfSilence) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(/*appendonly*/ true);
  const std::string keys = "command_timeout_ms = 1000\nconnect_timeout_ms = 1000\nreconnect_max_ms = 60000\n";
  auto server = load_redis_queue(redis_table(redis, "t", keys));
  auto runner = load_redis_queue(redis_table(redis, "t", keys));
  auto finished = std::make_shared<Finished>();
  server->watch(finished);
  std::optional<sdk::Lease> lease;
  std::thread claimer([&] { lease = runner->claim("runner/1", 60000); });
  redis.pause();
  std::uint64_t id = 0;
  std::thread enqueuer([&] { id = server->enqueue(R"({"during":"outage"})", Priority::normal, wall_ms()); });
  std::this_thread::sleep_for(std::chrono::seconds(10));
  redis.resume();
  enqueuer.join();
  claimer.join();
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->job.id, id);
  ASSERT_TRUE(runner->complete(*lease, "completed", R"({"ok":1})", wall_ms()));
  EXPECT_TRUE(finished->wait_for(id)) << "the server's subscription did not survive the silence";
  const auto all = server->jobs();
  ASSERT_EQ(all.size(), 1u) << "a retried enqueue() stored the job twice";
  EXPECT_EQ(all[0].state, "completed");
  EXPECT_EQ(all[0].claims, 1u);
}

// Redis is killed and comes back on the same port 2 s later while a runner waits and the server
// enqueues; the subscriptions come back on their own (the finished event reaches the server).
TEST(RedisOutage, AClaimerAndAServerReconnectAfterARestart) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(/*appendonly*/ true);
  auto server = load_redis_queue(redis_table(redis, "t"));
  auto runner = load_redis_queue(redis_table(redis, "t"));
  auto finished = std::make_shared<Finished>();
  server->watch(finished);
  std::optional<sdk::Lease> lease;
  std::thread claimer([&] { lease = runner->claim("runner/1", 60000); });
  redis.kill();
  std::uint64_t id = 0;
  std::thread enqueuer([&] { id = server->enqueue("{}", Priority::high, wall_ms()); });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  redis.start();
  enqueuer.join();
  claimer.join();
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->job.id, id);
  ASSERT_TRUE(runner->complete(*lease, "completed", "{}", wall_ms()));
  EXPECT_TRUE(finished->wait_for(id)) << "the server did not subscribe again";
}

// A runner reports and completes in the moment Redis is back from a restart, before the server's
// event reader could have reconnected: the server still sees every event of the job, in order. (A
// publish-only channel dropped them, and `ftdr serve` showed the job running for ever.)
TEST(RedisOutage, EventsWrittenWhileTheServerReconnectsReachItInOrder) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(/*appendonly*/ true);
  auto server = load_redis_queue(redis_table(redis, "t"));
  auto runner = load_redis_queue(redis_table(redis, "t"));
  auto log = std::make_shared<QueueEventLog>();
  server->watch(log);
  const auto id = server->enqueue("{}", Priority::normal, wall_ms());
  auto lease = runner->claim("runner/1", 0);
  ASSERT_TRUE(lease.has_value());
  ASSERT_TRUE(runner->report(*lease, {id, QueueEventKind::state, "encoding", 0, 0, ""}));
  ASSERT_EQ(log->wait_for(1).size(), 1u);
  redis.kill();
  redis.start();
  ASSERT_TRUE(runner->report(*lease, {id, QueueEventKind::state, "diffusion", 0, 0, ""}));
  ASSERT_TRUE(runner->report(*lease, {id, QueueEventKind::progress, "", 1, 2, ""}));
  ASSERT_TRUE(runner->complete(*lease, "completed", R"({"ok":1})", wall_ms()));
  const auto events = log->wait_for(4);
  ASSERT_EQ(events.size(), 4u) << "events written while the server reconnected were lost";
  EXPECT_EQ(events[1].state, "diffusion");
  EXPECT_EQ(events[2].kind, QueueEventKind::progress);
  EXPECT_EQ(events[2].step, 1);
  EXPECT_EQ(events[3].kind, QueueEventKind::finished);
  EXPECT_EQ(events[3].state, "completed");
  EXPECT_EQ(events[3].detail, R"({"ok":1})");
}

TEST(RedisOutage, AnOutageLongerThanTheBudgetThrowsNamingRedis) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis;
  auto q = load_redis_queue(redis_table(redis, "t", "reconnect_max_ms = 300\n"));
  redis.kill();
  try {
    q->enqueue("{}", Priority::normal, wall_ms());
    ADD_FAILURE() << "enqueue() succeeded without Redis";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::internal);
    EXPECT_THAT(e.what(), HasSubstr("redis queue: Redis at " + redis.url() + " is unreachable: "));
    EXPECT_THAT(e.what(), HasSubstr("[queue.redis] reconnect_max_ms = 300)"));
  }
}

// A large write on a connection whose Redis was killed: hiredis writes with write(2), and the process
// must not die of SIGPIPE (a host that does not ignore it); the call fails with the outage error.
TEST(RedisOutage, WritingToAKilledRedisIsAnErrorNotSigpipe) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis;
  auto q = load_redis_queue(redis_table(redis, "t", "reconnect_max_ms = 200\nblob_max_bytes = 67108864\n"));
  const auto id = q->enqueue("{}", sdk::Priority::normal, wall_ms());
  redis.kill();
  const std::string big(32 << 20, 'x');
  EXPECT_THROW(q->put_blob(id, "image-0.png", big), sdk::Error);
  EXPECT_THROW(q->put_blob(id, "image-1.png", big), sdk::Error);
}

}  // namespace
}  // namespace ftdr::test
