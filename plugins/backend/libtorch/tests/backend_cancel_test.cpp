// Cancellation between network blocks (sdk::StepObserver::check_stop, ABI 1.2): the backend asks the
// host between UNet, VAE and CLIP blocks, so a cancel stops a step, an encode or a decode before it
// ends. "Before it ends" is shown by counts, not by time: the observer stops at its n-th check and
// no step event (or no result) follows.
#include <gtest/gtest.h>

#include <filesystem>

#include "adapter/torch_backend.hpp"
#include "backend_test_support.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;

fs::path demo_model_dir() { return fs::path(FTDR_SOURCE_DIR) / "models" / "ftdr-shapes"; }

// Counts check_stop() calls and step events; throws Error(cancelled) at check number `stop_at`
// (0: never).
class StopAfter final : public sdk::StepObserver {
 public:
  explicit StopAfter(int stop_at = 0) : stop_at_(stop_at) {}
  void on_step(const sdk::StepEvent&) override { ++steps; }
  void check_stop() override {
    if (++checks == stop_at_)
      throw sdk::Error(sdk::ErrorKind::cancelled, "cancelled at check " + std::to_string(checks));
  }
  int checks = 0, steps = 0;

 private:
  int stop_at_;
};

class BackendCancel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backend_ = std::make_unique<torchbe::TorchBackend>(cpu_context());
    backend_->load(demo_model_dir().string());
  }
  static void TearDownTestSuite() { backend_.reset(); }
  void SetUp() override {
    params_.width = params_.height = params_.request.width = params_.request.height = 64;
    params_.request.steps = 3;
    params_.request.prompt = "a red circle";
  }
  // Runs `phase`, expecting the observer to cancel it; returns the message.
  template <class F>
  static std::string expect_cancelled(F&& phase) {
    try {
      phase();
    } catch (const sdk::Error& e) {
      EXPECT_EQ(e.kind(), sdk::ErrorKind::cancelled) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "not cancelled";
    return {};
  }
  static std::unique_ptr<torchbe::TorchBackend> backend_;
  sdk::GenerationParams params_;
};
std::unique_ptr<torchbe::TorchBackend> BackendCancel::backend_;

TEST_F(BackendCancel, DenoiseChecksBetweenBlocksOfEveryStep) {
  auto cond = backend_->encode(params_);
  StopAfter count;
  backend_->denoise(params_, *cond, nullptr, count);
  EXPECT_EQ(count.steps, 3);
  // Every step has the same blocks: many checks per step, not one per step.
  ASSERT_EQ(count.checks % 3, 0);
  EXPECT_GE(count.checks / 3, 10);
}

TEST_F(BackendCancel, ACancelInsideAStepStopsItBeforeItEnds) {
  auto cond = backend_->encode(params_);
  StopAfter count;
  backend_->denoise(params_, *cond, nullptr, count);
  const int per_step = count.checks / 3;

  StopAfter first(per_step / 2);  // halfway through step 1
  EXPECT_EQ(expect_cancelled([&] { backend_->denoise(params_, *cond, nullptr, first); }),
            "cancelled at check " + std::to_string(per_step / 2));
  EXPECT_EQ(first.steps, 0);                  // step 1 never finished
  StopAfter second(per_step + per_step / 2);  // halfway through step 2
  expect_cancelled([&] { backend_->denoise(params_, *cond, nullptr, second); });
  EXPECT_EQ(second.steps, 1);
}

TEST_F(BackendCancel, EncodeAndDecodeStopThroughTheStopObserver) {
  sdk::ModelBackend& target = *backend_;
  StopAfter count;
  target.set_stop_observer(&count);
  auto cond = backend_->encode(params_);
  const int encode_checks = count.checks;
  EXPECT_GE(encode_checks, 2);  // between the CLIP layers (the demo text encoder has 2)
  StopAfter nothing;
  auto latents = backend_->denoise(params_, *cond, nullptr, nothing);
  count.checks = 0;
  EXPECT_EQ(backend_->decode(params_, *latents, nullptr).size(), 1u);
  const int decode_checks = count.checks;
  EXPECT_GE(decode_checks, 5);  // VAE decoder blocks, resnets, upsamplers

  StopAfter stop_encode(encode_checks);  // the last layer never runs
  target.set_stop_observer(&stop_encode);
  expect_cancelled([&] { backend_->encode(params_); });
  StopAfter stop_decode(decode_checks / 2);
  target.set_stop_observer(&stop_decode);
  expect_cancelled([&] { backend_->decode(params_, *latents, nullptr); });

  target.set_stop_observer(nullptr);  // cleared: nothing is asked any more
  EXPECT_NO_THROW(backend_->encode(params_));
  EXPECT_EQ(stop_encode.checks, encode_checks);
}

}  // namespace
}  // namespace ftdr::test
