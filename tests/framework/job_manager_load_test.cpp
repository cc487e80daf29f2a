// JobManager under load and at shutdown: no job lost or run twice; drain vs cancel with jobs in flight.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

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

namespace {

std::shared_ptr<ExecutionEngine> engine_for(std::shared_ptr<ScriptedBackend> backend,
                                            std::shared_ptr<ScriptedRecovery> recovery = nullptr) {
  return std::make_shared<ExecutionEngine>(
      EnginePlugins{std::move(backend), nullptr, std::move(recovery), nullptr});
}

}  // namespace

TEST(JobManagerLoad, FourWorkersThousandJobsNoneLostNoneDuplicated) {
  auto backend = std::make_shared<ScriptedBackend>();
  backend->record_calls(false);
  JobManagerConfig cfg;
  cfg.workers = 4;
  cfg.max_queue = 0;
  cfg.keep_finished = 0;
  JobManager jobs(ftdr::test::load_scheduler("priority"), engine_for(backend), cfg);
  std::mutex m;
  std::map<JobId, int> completions;
  std::map<JobId, int> decodes_seen;
  JobCallbacks cb;
  cb.on_complete = [&](JobId id, const JobResult&) {
    std::lock_guard<std::mutex> lock(m);
    ++completions[id];
  };
  cb.on_state = [&](JobId id, S, S to) {
    if (to != S::decoding) return;
    std::lock_guard<std::mutex> lock(m);
    ++decodes_seen[id];
  };
  std::vector<JobId> ids;
  // Two submitting threads as well, so submit() races the workers.
  std::mutex ids_mutex;
  auto submit_some = [&](int n, ftdr::sdk::Priority p) {
    for (int i = 0; i < n; ++i) {
      JobId id = jobs.submit(small_request(1), p, cb);
      std::lock_guard<std::mutex> lock(ids_mutex);
      ids.push_back(id);
    }
  };
  std::thread t1(submit_some, 500, ftdr::sdk::Priority::low);
  std::thread t2(submit_some, 500, ftdr::sdk::Priority::urgent);
  t1.join();
  t2.join();
  ASSERT_EQ(ids.size(), 1000u);
  for (JobId id : ids) {
    auto r = jobs.result(id, 10s);
    ASSERT_TRUE(r) << "job " << id << " lost";
    EXPECT_TRUE(r->ok());
    EXPECT_EQ(r->id, id);
  }
  jobs.shutdown(ShutdownMode::drain);
  std::set<JobId> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), 1000u);
  EXPECT_EQ(completions.size(), 1000u);
  for (const auto& [id, n] : completions) EXPECT_EQ(n, 1) << "job " << id;
  for (const auto& [id, n] : decodes_seen) EXPECT_EQ(n, 1) << "job " << id << " decoded twice";
  const JobStats s = jobs.stats();
  EXPECT_EQ(s.completed, 1000u);
  EXPECT_EQ(s.failed + s.cancelled, 0u);
  EXPECT_DOUBLE_EQ(s.success_rate, 1.0);
}

TEST(JobManagerShutdown, DrainFinishesQueuedRunningAndRetryingJobs) {
  auto backend = std::make_shared<ScriptedBackend>();
  auto recovery = std::make_shared<ScriptedRecovery>();
  recovery->delay_ms = 100;
  backend->fail_next(Phase::diffusion, ErrorKind::device_error, 1);
  Gate gate;
  backend->on_step = [&](int) { gate.pass(); };
  JobManager jobs(ftdr::test::load_scheduler("fifo"), engine_for(backend, recovery));
  std::vector<JobId> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(jobs.submit(small_request()));
  ASSERT_TRUE(gate.reached());  // job 1 holds the worker; 5 queued
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.open();
  });
  jobs.shutdown(ShutdownMode::drain);
  opener.join();
  EXPECT_THROW(jobs.submit(small_request()), ftdr::sdk::Error);
  for (JobId id : ids) {
    auto r = jobs.result(id, 0ms);
    ASSERT_TRUE(r) << "shutdown(drain) returned before job " << id << " finished";
    EXPECT_TRUE(r->ok()) << "job " << id << ": " << r->error_message;
  }
  EXPECT_EQ(jobs.result(ids[0], 0ms)->attempts.size(), 1u) << "the retried job went through its timer";
  EXPECT_EQ(jobs.stats().completed, 6u);
}

TEST(JobManagerShutdown, CancelStopsRunningAndCancelsQueuedAndRetryPendingJobs) {
  auto backend = std::make_shared<ScriptedBackend>();
  auto recovery = std::make_shared<ScriptedRecovery>();
  recovery->delay_ms = 60000;
  backend->fail_next(Phase::encoding, ErrorKind::device_error);
  Gate gate;
  auto jobs = std::make_unique<JobManager>(ftdr::test::load_scheduler("fifo"), engine_for(backend, recovery));
  JobId waiting = jobs->submit(small_request());
  ASSERT_TRUE(eventually([&] { return jobs->status(waiting).state == S::retry_pending; }));
  backend->on_step = [&](int) { gate.pass(); };
  JobId running = jobs->submit(small_request(5));
  ASSERT_TRUE(gate.reached());
  JobId queued1 = jobs->submit(small_request());
  JobId queued2 = jobs->submit(small_request());
  std::thread stopper([&] { jobs->shutdown(ShutdownMode::cancel); });
  ASSERT_TRUE(eventually([&] { return jobs->stats().cancelled == 3; }));
  gate.open();
  stopper.join();
  for (JobId id : {waiting, running, queued1, queued2}) {
    auto r = jobs->result(id, 0ms);
    ASSERT_TRUE(r) << "job " << id;
    EXPECT_EQ(r->state, S::cancelled) << "job " << id;
  }
  EXPECT_EQ(jobs->result(running, 0ms)->metrics.states.back().state, S::cancelled);
  EXPECT_EQ(jobs->status(running).step, 1) << "stopped at the first step boundary after cancel";
  EXPECT_EQ(backend->count("decode"), 0);
  const JobStats s = jobs->stats();
  EXPECT_EQ(s.cancelled, 4u);
  EXPECT_EQ(s.completed, 0u);
  jobs.reset();  // the destructor after an explicit shutdown returns at once
}
