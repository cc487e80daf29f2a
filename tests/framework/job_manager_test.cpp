// JobManager: validation, queries, waiting, cancellation in every state, the bounded queue,
// retries on timers, callbacks that throw.
#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "framework/job_manager_test_support.hpp"

using namespace ftdr::framework;
using namespace std::chrono_literals;
using ftdr::sdk::ErrorKind;
using ftdr::sdk::Phase;
using ftdr::test::eventually;
using ftdr::test::Gate;
using ftdr::test::ScriptedBackend;
using ftdr::test::ScriptedRecovery;
using ftdr::test::small_request;
using S = ExecutionState;
using States = std::vector<S>;

namespace job_manager_test {
namespace {

States states_of(const JobResult& r) {
  States out;
  for (const auto& s : r.metrics.states) out.push_back(s.state);
  return out;
}

class JobManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<JobManager> make(JobManagerConfig cfg = {}, std::int64_t retry_delay_ms = 0) {
    recovery->delay_ms = retry_delay_ms;
    auto engine = std::make_shared<ExecutionEngine>(EnginePlugins{backend, nullptr, recovery, nullptr});
    return std::make_unique<JobManager>(ftdr::test::load_scheduler("fifo"), engine, cfg);
  }
  std::shared_ptr<ScriptedBackend> backend = std::make_shared<ScriptedBackend>();
  std::shared_ptr<ScriptedRecovery> recovery = std::make_shared<ScriptedRecovery>();
};

TEST_F(JobManagerTest, InvalidRequestsAreRejectedAndNeverQueued) {
  auto jobs = make();
  auto bad = small_request();
  bad.width = 100;
  try {
    jobs->submit(bad);
    FAIL() << "accepted width 100";
  } catch (const ftdr::sdk::Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_request);
    EXPECT_NE(std::string(e.what()).find("'width': expected a multiple of 8"), std::string::npos) << e.what();
  }
  bad = small_request();
  bad.sampler = "eular";
  EXPECT_THROW(jobs->submit(bad), ftdr::sdk::Error);
  const JobStats s = jobs->stats();
  EXPECT_EQ(s.rejected, 2u);
  EXPECT_EQ(s.submitted, 0u);
  EXPECT_EQ(backend->count("encode"), 0);
}

TEST_F(JobManagerTest, CompletedJobReportsStatusAndResult) {
  auto jobs = make();
  JobId id = jobs->submit(small_request(3), ftdr::sdk::Priority::high);
  auto r = jobs->result(id, 5s);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->id, id);
  JobStatus st = jobs->status(id);
  EXPECT_EQ(st.state, S::completed);
  EXPECT_EQ(st.priority, ftdr::sdk::Priority::high);
  EXPECT_EQ(st.step, 3);
  EXPECT_EQ(st.total_steps, 3);
  EXPECT_EQ(st.attempts, 1);
  EXPECT_FALSE(st.queue_position);
  EXPECT_GE(st.run_ms, 0.0);
}

TEST_F(JobManagerTest, UnknownIdsAreReportedClearly) {
  auto jobs = make();
  EXPECT_THROW(jobs->status(42), ftdr::sdk::Error);
  EXPECT_THROW(jobs->result(42, 1ms), ftdr::sdk::Error);
  EXPECT_FALSE(jobs->cancel(42));
}

TEST_F(JobManagerTest, ResultWaitTimesOutWhileTheJobRuns) {
  Gate gate;
  backend->on_step = [&](int) { gate.pass(); };
  auto jobs = make();
  JobId id = jobs->submit(small_request());
  ASSERT_TRUE(gate.reached());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(jobs->result(id, 50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_EQ(jobs->status(id).state, S::diffusion_running);
  EXPECT_EQ(jobs->stats().running, 1u);
  gate.open();
  auto r = jobs->result(id, 5s);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok());
}

TEST_F(JobManagerTest, FullQueueRefusesWithQueueFullError) {
  Gate gate;
  backend->on_step = [&](int) { gate.pass(); };
  JobManagerConfig cfg;
  cfg.max_queue = 2;
  auto jobs = make(cfg);
  JobId a = jobs->submit(small_request());
  ASSERT_TRUE(gate.reached());
  JobId b = jobs->submit(small_request());
  JobId c = jobs->submit(small_request());
  EXPECT_EQ(jobs->status(b).queue_position, 0u);
  EXPECT_EQ(jobs->status(c).queue_position, 1u);
  try {
    jobs->submit(small_request());
    FAIL() << "a third queued job was accepted with max_queue 2";
  } catch (const QueueFullError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_request);
    EXPECT_NE(std::string(e.what()).find("max_queue"), std::string::npos);
  }
  EXPECT_EQ(jobs->stats().queued, 2u);
  EXPECT_EQ(jobs->stats().rejected, 1u);
  gate.open();
  for (JobId id : {a, b, c}) EXPECT_TRUE(jobs->result(id, 5s)->ok());
}

TEST_F(JobManagerTest, CancelQueuedJobRemovesItFromTheScheduler) {
  Gate gate;
  backend->on_step = [&](int) { gate.pass(); };
  auto jobs = make();
  JobId a = jobs->submit(small_request());
  ASSERT_TRUE(gate.reached());
  std::atomic<int> errors{0};
  JobCallbacks cb;
  cb.on_error = [&](JobId, const JobResult& r) { errors += r.error_kind == ErrorKind::cancelled; };
  JobId b = jobs->submit(small_request(), ftdr::sdk::Priority::normal, cb);
  EXPECT_TRUE(jobs->cancel(b));
  EXPECT_FALSE(jobs->cancel(b)) << "already cancelled";
  auto rb = jobs->result(b, 1s);
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->state, S::cancelled);
  EXPECT_EQ(states_of(*rb), (States{S::idle, S::cancelled}));
  EXPECT_EQ(errors.load(), 1);
  EXPECT_EQ(jobs->stats().queued, 0u);
  gate.open();
  EXPECT_TRUE(jobs->result(a, 5s)->ok());
  EXPECT_EQ(backend->count("encode"), 1) << "the cancelled job never ran";
}

TEST_F(JobManagerTest, CancelRunningJobStopsAtTheNextStepBoundary) {
  Gate gate;
  backend->on_step = [&](int step) {
    if (step == 2) gate.pass();
  };
  auto jobs = make();
  JobId id = jobs->submit(small_request(10));
  ASSERT_TRUE(gate.reached());
  EXPECT_TRUE(jobs->cancel(id));
  gate.open();
  auto r = jobs->result(id, 5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, S::cancelled);
  EXPECT_EQ(states_of(*r),
            (States{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running, S::cancelled}));
  EXPECT_EQ(jobs->status(id).step, 2);
  EXPECT_EQ(backend->count("decode"), 0);
  EXPECT_EQ(jobs->stats().cancelled, 1u);
}

TEST_F(JobManagerTest, CancelRetryPendingJobCancelsItsTimer) {
  backend->fail_next(Phase::encoding, ErrorKind::device_error);
  auto jobs = make({}, /*retry_delay_ms*/ 60000);
  JobId id = jobs->submit(small_request());
  ASSERT_TRUE(eventually([&] { return jobs->status(id).state == S::retry_pending; }));
  EXPECT_EQ(jobs->stats().retry_pending, 1u);
  EXPECT_FALSE(jobs->status(id).queue_position) << "waiting on its timer, not in the queue";
  EXPECT_TRUE(jobs->cancel(id));
  auto r = jobs->result(id, 1s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, S::cancelled);
  EXPECT_EQ(states_of(*r),
            (States{S::idle, S::initializing, S::encoding_prompt, S::retry_pending, S::cancelled}));
  ASSERT_EQ(r->attempts.size(), 1u);
  EXPECT_EQ(jobs->stats().retry_pending, 0u);
}

TEST_F(JobManagerTest, RetryDelayDoesNotHoldTheWorker) {
  backend->fail_next(Phase::encoding, ErrorKind::device_error);
  std::mutex m;
  std::vector<JobId> completed;
  JobCallbacks cb;
  cb.on_complete = [&](JobId id, const JobResult&) {
    std::lock_guard<std::mutex> lock(m);
    completed.push_back(id);
  };
  auto jobs = make({}, /*retry_delay_ms*/ 300);  // one worker
  JobId a = jobs->submit(small_request(), ftdr::sdk::Priority::normal, cb);
  ASSERT_TRUE(eventually([&] { return jobs->status(a).state == S::retry_pending; }));
  JobId b = jobs->submit(small_request(), ftdr::sdk::Priority::normal, cb);
  ASSERT_TRUE(jobs->result(b, 5s)->ok());
  EXPECT_EQ(jobs->status(a).state, S::retry_pending) << "b ran while a waited";
  auto ra = jobs->result(a, 5s);
  ASSERT_TRUE(ra);
  EXPECT_TRUE(ra->ok());
  EXPECT_EQ(states_of(*ra),
            (States{S::idle, S::initializing, S::encoding_prompt, S::retry_pending, S::initializing,
                    S::encoding_prompt, S::diffusion_running, S::decoding, S::completed}));
  EXPECT_GE(ra->metrics.run_ms, 300.0);
  // on_complete runs right after the result is published; wait for it.
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(m);
    return completed.size() == 2;
  }));
  EXPECT_EQ(completed, (std::vector<JobId>{b, a}));
  EXPECT_EQ(jobs->stats().retries, 1u);
  EXPECT_EQ(jobs->status(a).attempts, 2);
}

TEST_F(JobManagerTest, ThrowingCallbacksAreLoggedAndWorkersSurvive) {
  std::atomic<int> states{0}, progress{0}, completes{0};
  JobCallbacks cb;
  cb.on_state = [&](JobId, S, S) {
    ++states;
    throw std::runtime_error("on_state boom");
  };
  cb.on_progress = [&](JobId, int, int) {
    ++progress;
    throw 42;
  };
  cb.on_complete = [&](JobId, const JobResult&) {
    ++completes;
    throw std::runtime_error("on_complete boom");
  };
  JobManagerConfig cfg;
  cfg.workers = 2;
  auto jobs = make(cfg);
  std::vector<JobId> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(jobs->submit(small_request(2), ftdr::sdk::Priority::normal, cb));
  for (JobId id : ids) {
    auto r = jobs->result(id, 5s);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->ok());
  }
  ASSERT_TRUE(eventually([&] { return completes.load() == 20; }));
  EXPECT_EQ(progress.load(), 40);
  EXPECT_EQ(states.load(), 20 * 5);
  EXPECT_EQ(jobs->stats().completed, 20u);
}

TEST_F(JobManagerTest, StatsCountOutcomesAndMeans) {
  auto jobs = make();
  recovery->retries = 0;
  backend->fail_next(Phase::decoding, ErrorKind::device_error);
  std::vector<JobId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(jobs->submit(small_request()));
  int ok = 0;
  for (JobId id : ids) ok += jobs->result(id, 5s)->ok();
  EXPECT_EQ(ok, 3);
  JobStats s = jobs->stats();
  EXPECT_EQ(s.submitted, 4u);
  EXPECT_EQ(s.completed, 3u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_DOUBLE_EQ(s.success_rate, 0.75);
  EXPECT_GE(s.mean_wait_ms, 0.0);
  EXPECT_GT(s.mean_run_ms, 0.0);
  EXPECT_EQ(s.queued + s.running + s.retry_pending, 0u);
}

TEST_F(JobManagerTest, KeepFinishedForgetsTheOldestResults) {
  JobManagerConfig cfg;
  cfg.keep_finished = 2;
  auto jobs = make(cfg);
  std::vector<JobId> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(jobs->submit(small_request()));
    ASSERT_TRUE(jobs->result(ids.back(), 5s));
  }
  EXPECT_THROW(jobs->status(ids[0]), ftdr::sdk::Error);
  EXPECT_EQ(jobs->status(ids[2]).state, S::completed);
}

// Ids are not counted from 1 in every manager: two processes (or two managers, or a restart) never
// hand out the same id, so their checkpoint folders <state_dir>/jobs/<id>/ never meet.
TEST_F(JobManagerTest, IdsAreUniqueAcrossManagers) {
  auto first = make();
  auto second = make();
  std::vector<JobId> of_first, of_second;
  for (int i = 0; i < 3; ++i) {
    of_first.push_back(first->submit(small_request()));
    of_second.push_back(second->submit(small_request()));
  }
  std::set<JobId> ids(of_first.begin(), of_first.end());
  ids.insert(of_second.begin(), of_second.end());
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(ids.count(0), 0u) << "0 means no job";
  for (JobId id : of_first) EXPECT_TRUE(first->result(id, 5s)) << "job " << id;
  for (JobId id : of_second) EXPECT_TRUE(second->result(id, 5s)) << "job " << id;
}

}  // namespace
}  // namespace job_manager_test
