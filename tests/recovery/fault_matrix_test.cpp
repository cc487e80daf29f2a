// Every fault kind the backend injects (oom, device_error, nan, slow_step) in every phase (encode,
// diffusion, decode), on the real libtorch backend with the progressive recovery strategy: the
// exact state sequence, attempt history (kind, phase, step, change) and outcome of each.
// The step of a failure is the diffusion steps done when it happened: tiny-sd1's default sampler
// (PNDM, as diffusers) runs steps + 1 UNet evaluations, so a 4-step job reaches step 5 before decoding.
#include <gtest/gtest.h>

#include "recovery/recovery_rig.hpp"

namespace ftdr::test {
namespace {

using fw::ExecutionState;

struct Case {
  const char* name;
  std::string faults;                 // the [faults] table's body
  std::string states;                 // expected state sequence
  std::vector<std::string> attempts;  // expected attempt history
  ExecutionState outcome = ExecutionState::completed;
};

// A job starts like this; each case adds what follows.
const std::string kStart = "IDLE INITIALIZING ENCODING_PROMPT";
const std::string kFinish = "DIFFUSION_RUNNING DECODING COMPLETED";

std::vector<Case> cases() {
  return {
      {"oom_encode",
       "oom = \"encode\"",
       kStart + " RETRY_PENDING INITIALIZING ENCODING_PROMPT " + kFinish,
       {"out_of_memory in encoding at step 0 -> offload the other components and empty the cache, retry "
        "encoding"}},
      {"oom_diffusion",
       "oom = \"diffusion:step=3\"",
       kStart + " DIFFUSION_RUNNING RETRY_PENDING INITIALIZING DIFFUSION_RUNNING DECODING COMPLETED",
       {"out_of_memory in diffusion at step 2 -> attention slicing on (slice size: backend's choice)"}},
      {"oom_decode",
       "oom = \"decode\"",
       kStart + " DIFFUSION_RUNNING DECODING RETRY_PENDING INITIALIZING DECODING COMPLETED",
       {"out_of_memory in decoding at step 5 -> VAE tiling on, decoding again from the finished latents"}},
      {"device_error_encode",
       "device_error = \"encode\"",
       kStart + " RETRY_PENDING INITIALIZING ENCODING_PROMPT " + kFinish,
       {"device_error in encoding at step 0 -> retry encoding after device cleanup (device_error 1 of 2)"}},
      {"device_error_diffusion",
       "device_error = \"diffusion:step=3\"",
       kStart + " DIFFUSION_RUNNING RETRY_PENDING INITIALIZING DIFFUSION_RUNNING DECODING COMPLETED",
       {"device_error in diffusion at step 2 -> retry diffusion after device cleanup (device_error 1 of 2)"}},
      {"device_error_decode",
       "device_error = \"decode\"",
       kStart + " DIFFUSION_RUNNING DECODING RETRY_PENDING INITIALIZING DECODING COMPLETED",
       {"device_error in decoding at step 5 -> retry decoding after device cleanup (device_error 1 of 2)"}},
      // The backend checks the text encoder's output, so the retry encodes again (a NaN found only
      // in diffusion would be retried with the same bad conditioning).
      {"nan_encode",
       "nan = \"encode\"",
       kStart + " RETRY_PENDING INITIALIZING ENCODING_PROMPT " + kFinish,
       {"numerical_error in encoding at step 0 -> retry encoding as is (numerical error 1 of 2)"}},
      {"nan_diffusion",
       "nan = \"diffusion:step=3\"",
       kStart + " DIFFUSION_RUNNING RETRY_PENDING INITIALIZING DIFFUSION_RUNNING DECODING COMPLETED",
       {"numerical_error in diffusion at step 3 -> retry diffusion as is (numerical error 1 of 2)"}},
      {"nan_decode",
       "nan = \"decode\"",
       kStart + " DIFFUSION_RUNNING DECODING RETRY_PENDING INITIALIZING DECODING COMPLETED",
       {"numerical_error in decoding at step 5 -> VAE upcast to f32, decoding again"}},
      // The watchdog times diffusion steps only: a slow encode or decode is not a failure.
      {"slow_encode", "slow_step = \"encode:ms=1500\"", kStart + " " + kFinish, {}},
      {"slow_diffusion",
       "slow_step = \"diffusion:step=3:ms=1500\"",
       kStart + " DIFFUSION_RUNNING RETRY_PENDING INITIALIZING DIFFUSION_RUNNING DECODING COMPLETED",
       // The watchdog fires inside step 3 (between network blocks), with 2 steps done.
       {"timeout in diffusion at step 2 -> retry diffusion (timeout 1 of 1)"}},
      {"slow_decode", "slow_step = \"decode:ms=1500\"", kStart + " " + kFinish, {}},
  };
}

TEST(FaultMatrix, EveryKindInEveryPhase) {
  FTDR_REQUIRE_TINY_SD1(model);
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto dir = fresh_test_dir() / c.name;
    RigOptions options;
    options.step_timeout_ms = 1000;  // steps take ~100 ms (more when loaded); slow_step sleeps 1500
    Rig rig(model, dir, "[faults]\n" + c.faults + "\n" + fast_recovery(), options);
    ASSERT_TRUE(rig.ok());
    Trace t = rig.run(small_request(4));
    EXPECT_EQ(t.states, c.states);
    EXPECT_EQ(t.attempts, c.attempts);
    EXPECT_EQ(t.result.state, c.outcome) << t.result.error_message;
    EXPECT_FALSE(t.result.degraded);
    if (c.outcome == ExecutionState::completed) {
      ASSERT_EQ(t.result.images.size(), 1u);
      EXPECT_EQ(t.result.images[0].width, 64);
    }
  }
}

}  // namespace
}  // namespace ftdr::test
