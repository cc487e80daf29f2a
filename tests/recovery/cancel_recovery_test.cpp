// Cancelling a job on the real backend: while it is queued, while it waits to retry, and in the
// middle of diffusion; each ends CANCELLED with the exact state sequence.
#include <gtest/gtest.h>

#include <thread>

#include "recovery/recovery_rig.hpp"

namespace ftdr::test {
namespace {

using namespace std::chrono_literals;

// Polls until `done` or 30 s pass.
template <class Pred>
bool wait_for(Pred done) {
  for (int i = 0; i < 3000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(CancelRecovery, WhileQueued) {
  FTDR_REQUIRE_TINY_SD1(model);
  Rig rig(model, fresh_test_dir(), fast_recovery());  // one worker
  ASSERT_TRUE(rig.ok());
  auto busy = small_request(20);
  busy.output_dir = (rig.dir() / "out").string();
  const fw::JobId first = rig.jobs().submit(busy);
  const fw::JobId queued = rig.jobs().submit(busy);
  ASSERT_TRUE(wait_for([&] { return rig.jobs().status(first).state != fw::ExecutionState::idle; }));
  EXPECT_EQ(rig.jobs().status(queued).state, fw::ExecutionState::idle);
  EXPECT_TRUE(rig.jobs().cancel(queued));
  auto r = rig.jobs().result(queued, 5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(states_text(r->metrics.states), "IDLE CANCELLED");
  EXPECT_EQ(r->error_kind, sdk::ErrorKind::cancelled);
  rig.jobs().cancel(first);
  ASSERT_TRUE(rig.jobs().result(first, 30s));
}

TEST(CancelRecovery, WhileRetryPending) {
  FTDR_REQUIRE_TINY_SD1(model);
  // A minute of backoff: the job sits in RETRY_PENDING until cancelled.
  Rig rig(model, fresh_test_dir(),
          "[faults]\ndevice_error = \"diffusion:step=2\"\n"
          "[recovery.progressive]\nbackoff_initial_ms = 60000\nbackoff_max_ms = 60000\njitter = 0\n");
  ASSERT_TRUE(rig.ok());
  auto request = small_request(4);
  request.output_dir = (rig.dir() / "out").string();
  const fw::JobId id = rig.jobs().submit(request);
  ASSERT_TRUE(wait_for([&] { return rig.jobs().status(id).state == fw::ExecutionState::retry_pending; }));
  EXPECT_TRUE(rig.jobs().cancel(id));
  auto r = rig.jobs().result(id, 5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(states_text(r->metrics.states),
            "IDLE INITIALIZING ENCODING_PROMPT DIFFUSION_RUNNING RETRY_PENDING CANCELLED");
  EXPECT_EQ(r->error_kind, sdk::ErrorKind::cancelled);
  ASSERT_EQ(r->attempts.size(), 1u);
  EXPECT_EQ(r->attempts[0].failure.kind, sdk::ErrorKind::device_error);
}

TEST(CancelRecovery, MidDiffusion) {
  FTDR_REQUIRE_TINY_SD1(model);
  Rig rig(model, fresh_test_dir(), fast_recovery());
  ASSERT_TRUE(rig.ok());
  auto request = small_request(20);
  request.output_dir = (rig.dir() / "out").string();
  std::atomic<int> step{0};
  fw::JobCallbacks cb;
  cb.on_progress = [&](fw::JobId, int s, int) { step = s; };
  const fw::JobId id = rig.jobs().submit(request, sdk::Priority::normal, cb);
  ASSERT_TRUE(wait_for([&] { return step.load() >= 2; }));
  EXPECT_TRUE(rig.jobs().cancel(id));
  auto r = rig.jobs().result(id, 10s);
  ASSERT_TRUE(r);
  EXPECT_EQ(states_text(r->metrics.states), "IDLE INITIALIZING ENCODING_PROMPT DIFFUSION_RUNNING CANCELLED");
  EXPECT_EQ(r->error_kind, sdk::ErrorKind::cancelled);
  EXPECT_LT(step.load(), 20);  // stopped at a step boundary, not at the end
  EXPECT_TRUE(r->attempts.empty() || r->attempts.back().failure.kind == sdk::ErrorKind::cancelled);
}

}  // namespace
}  // namespace ftdr::test
