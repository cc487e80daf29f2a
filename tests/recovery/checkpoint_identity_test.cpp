// A checkpoint proves it belongs to this request and model: one made for another prompt, negative
// prompt, cfg or model (as another process sharing the state folder could leave it) is refused on
// the real libtorch backend, diffusion starts afresh, and the job still makes its own image.
#include <gtest/gtest.h>

#include <functional>

#include "ftdr/framework/jobs/request_validation.hpp"
#include "recovery/recovery_rig.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;

// Saves the latents after `at` steps to `path`, as the engine's checkpoints are written.
class SaveAt final : public sdk::StepObserver {
 public:
  SaveAt(const sdk::ModelBackend& backend, int at, std::string path)
      : backend_(backend), at_(at), path_(std::move(path)) {}
  void on_step(const sdk::StepEvent& e) override {
    if (e.step == at_) backend_.save_artifact(*e.latents, path_);
  }

 private:
  const sdk::ModelBackend& backend_;
  int at_;
  std::string path_;
};

// A step-2 checkpoint of `request` made by a backend of its own on `model`.
fs::path foreign_checkpoint(const fs::path& model, const fs::path& dir,
                            const sdk::GenerationRequest& request) {
  fs::create_directories(dir);
  Rig maker(model, dir, "");
  EXPECT_TRUE(maker.ok());
  const sdk::GenerationParams p = fw::initial_params(request);
  const auto conditioning = maker.backend().encode(p);
  const fs::path path = dir / "foreign.ckpt";
  SaveAt save(maker.backend(), 2, path.string());
  maker.backend().denoise(p, *conditioning, nullptr, save);
  return path;
}

struct Foreign {
  const char* what;
  std::function<void(sdk::GenerationRequest&)> change;  // the request it was made for
  bool other_model = false;                             // made by a copy of the model folder
};

void PrintTo(const Foreign& f, std::ostream* os) { *os << f.what; }

class ForeignCheckpoint : public ::testing::TestWithParam<Foreign> {};

TEST_P(ForeignCheckpoint, IsRefusedAndTheJobMakesItsOwnImage) {
  FTDR_REQUIRE_TINY_SD1(model);
  const fs::path dir = fresh_test_dir();
  const sdk::GenerationRequest request = small_request(6, 2.0);
  sdk::GenerationRequest other = request;
  if (GetParam().change) GetParam().change(other);
  fs::path maker_model = model;
  if (GetParam().other_model) {
    maker_model = dir / "model-copy";
    fs::copy(model, maker_model, fs::copy_options::recursive);
  }
  const fs::path foreign = foreign_checkpoint(maker_model, dir / "maker", other);
  ASSERT_TRUE(fs::is_regular_file(foreign));

  RigOptions options;
  options.checkpoint_every = 2;
  Rig rig(model, dir / "job", "[faults]\ndevice_error = \"diffusion:step=4\"\n" + fast_recovery(), options);
  ASSERT_TRUE(rig.ok());
  // While the job waits to retry, every checkpoint of it is replaced by the foreign one.
  fw::JobCallbacks cb;
  const fs::path jobs = rig.dir() / "state" / "jobs";
  int replaced = 0;
  cb.on_state = [&](fw::JobId, fw::ExecutionState, fw::ExecutionState to) {
    if (to != fw::ExecutionState::retry_pending) return;
    for (const auto& e : fs::recursive_directory_iterator(jobs))
      if (e.path().extension() == ".ckpt") {
        fs::copy_file(foreign, e.path(), fs::copy_options::overwrite_existing);
        ++replaced;
      }
  };
  Trace t = rig.run(request, std::chrono::seconds(120), cb);
  ASSERT_EQ(t.result.state, fw::ExecutionState::completed) << t.result.error_message;
  EXPECT_EQ(replaced, 1);
  EXPECT_EQ(t.attempts, std::vector<std::string>{
                            "device_error in diffusion at step 3 -> retry diffusion after device cleanup "
                            "(device_error 1 of 2)"});
  // From the start (6 PNDM steps = 7 evaluations), not 3, 4, ... from the foreign step-2 latents.
  EXPECT_EQ(t.progress, (std::vector<int>{1, 2, 3, 1, 2, 3, 4, 5, 6, 7}));
  const Trace clean = rig.run(request);  // the fault fired once: this run has none
  ASSERT_TRUE(clean.result.ok()) << clean.result.error_message;
  ASSERT_TRUE(clean.attempts.empty());
  ASSERT_EQ(t.result.images.size(), 1u);
  EXPECT_EQ(t.result.images[0].rgb, clean.result.images[0].rgb);
}

INSTANTIATE_TEST_SUITE_P(
    OtherRequestOrModel, ForeignCheckpoint,
    ::testing::Values(Foreign{"prompt", [](sdk::GenerationRequest& r) { r.prompt = "a blue circle"; }},
                      Foreign{"negative_prompt",
                              [](sdk::GenerationRequest& r) { r.negative_prompt = "green"; }},
                      Foreign{"cfg", [](sdk::GenerationRequest& r) { r.cfg_scale = 5.0; }},
                      Foreign{"clip_skip", [](sdk::GenerationRequest& r) { r.clip_skip = 2; }},
                      Foreign{"model", nullptr, /*other_model*/ true}),
    [](const ::testing::TestParamInfo<Foreign>& info) { return std::string(info.param.what); });

}  // namespace
}  // namespace ftdr::test
