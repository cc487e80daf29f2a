// A numerical error in a reduced-precision run: the progressive ladder retries the failed phase in
// f32 (RuntimeOptions::dtype), which the libtorch backend honours by casting that phase's component
// to f32 for the retry only. bf16 on the CPU stands in for f16 on a GPU.
#include <gtest/gtest.h>

#include "recovery/recovery_rig.hpp"

namespace ftdr::test {
namespace {

std::uint64_t unet_bytes(sdk::ModelBackend& backend) {
  for (const auto& c : backend.components())
    if (c.name == "unet") return c.bytes;
  return 0;
}

TEST(PrecisionRecovery, NanInBf16DiffusionIsRetriedInF32AndTheUNetReturnsToBf16) {
  FTDR_REQUIRE_TINY_SD1(model);
  RigOptions options;
  options.dtype = "bf16";
  Rig rig(model, fresh_test_dir(), "[faults]\nnan = \"diffusion:step=3\"\n" + fast_recovery(), options);
  ASSERT_TRUE(rig.ok());
  EXPECT_EQ(rig.backend().info().dtype, sdk::DType::bf16);
  const std::uint64_t bf16_bytes = unet_bytes(rig.backend());
  Trace t = rig.run(small_request(4));
  // The conditioning was made at bf16, so the f32 retry encodes again before diffusion.
  EXPECT_EQ(t.states,
            "IDLE INITIALIZING ENCODING_PROMPT DIFFUSION_RUNNING RETRY_PENDING INITIALIZING "
            "ENCODING_PROMPT DIFFUSION_RUNNING DECODING COMPLETED");
  EXPECT_EQ(t.attempts, std::vector<std::string>{
                            "numerical_error in diffusion at step 3 -> dtype bf16 -> f32, retry diffusion"});
  EXPECT_EQ(t.result.state, fw::ExecutionState::completed) << t.result.error_message;
  ASSERT_EQ(t.result.images.size(), 1u);
  EXPECT_EQ(unet_bytes(rig.backend()), bf16_bytes);  // the next job runs at bf16 again
}

}  // namespace
}  // namespace ftdr::test
