// Checkpoints: artifacts save and load bit-identically, and a run resumed from a mid-run latents
// checkpoint (in a fresh backend object, as after a crash) ends in the same image bit for bit.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <vector>

#include "adapter/torch_backend.hpp"
#include "artifacts/conditioning.hpp"
#include "artifacts/latents_artifact.hpp"
#include "backend_test_support.hpp"
#include "common/reference.hpp"

namespace ftdr::test {
namespace {

using torchbe::ConditioningArtifact;
using torchbe::LatentsArtifact;
using torchbe::TorchBackend;

std::filesystem::path temp_file(const std::string& name) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("ftdr_backend_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

void expect_same_named(const torchbe::SamplerState& a, const torchbe::SamplerState& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.scalar_type(), b[i].second.scalar_type()) << a[i].first;
    EXPECT_TRUE(at::equal(a[i].second.cpu(), b[i].second.cpu())) << a[i].first;
  }
}

class BackendCheckpoints : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto root = reference_dir();
    if (!root) return;
    run_ = std::make_unique<ReferenceRun>(reference_run(*root, "tiny-sd1", "pipe.pndm.s4"));
    backend_ = std::make_unique<TorchBackend>(cpu_context());
    backend_->load(run_->model_dir.string());
  }
  static void TearDownTestSuite() {
    backend_.reset();
    run_.reset();
  }
  void SetUp() override {
    if (!backend_) GTEST_SKIP() << "reference data not found at " << reference_dir_candidate();
  }

  // Full run with `sampler`; keeps the artifact of step `keep` (saved to disk and loaded back).
  static std::vector<sdk::Image> run_keeping(const sdk::GenerationParams& p, int keep,
                                             sdk::ArtifactPtr* kept) {
    auto cond = backend_->encode(p);
    RecordingObserver observer(keep);
    const auto path = temp_file("step.safetensors");
    observer.keep = [&](const sdk::Artifact& a) { backend_->save_artifact(a, path.string()); };
    auto latents = backend_->denoise(p, *cond, nullptr, observer);
    if (kept) *kept = backend_->load_artifact(path.string());
    return backend_->decode(p, *latents, nullptr);
  }

  static std::unique_ptr<ReferenceRun> run_;
  static std::unique_ptr<TorchBackend> backend_;
};
std::unique_ptr<ReferenceRun> BackendCheckpoints::run_;
std::unique_ptr<TorchBackend> BackendCheckpoints::backend_;

TEST_F(BackendCheckpoints, ConditioningRoundTripIsBitIdentical) {
  auto cond = backend_->encode(run_->params);
  const auto path = temp_file("cond.safetensors");
  backend_->save_artifact(*cond, path.string());
  auto back = backend_->load_artifact(path.string());
  ASSERT_EQ(back->kind(), "conditioning");
  const auto& a = dynamic_cast<const ConditioningArtifact&>(*cond);
  const auto& b = dynamic_cast<const ConditioningArtifact&>(*back);
  EXPECT_TRUE(at::equal(a.cond, b.cond));
  EXPECT_TRUE(at::equal(a.uncond, b.uncond));
  EXPECT_EQ(a.bytes(), b.bytes());
  EXPECT_EQ(back->steps_done(), 0);
}

TEST_F(BackendCheckpoints, LatentsRoundTripIsBitIdentical) {
  for (const char* sampler : {"pndm", "euler_a", "dpmpp_2m", "lms"}) {
    SCOPED_TRACE(sampler);
    sdk::GenerationParams p = run_->params;
    p.request.sampler = sampler;
    auto cond = backend_->encode(p);
    sdk::ArtifactPtr mid;
    RecordingObserver observer(2);
    observer.keep = [&](const sdk::Artifact& a) {
      const auto& l = dynamic_cast<const LatentsArtifact&>(a);
      auto copy = std::make_shared<LatentsArtifact>(l);
      mid = copy;
    };
    backend_->denoise(p, *cond, nullptr, observer);
    ASSERT_TRUE(mid);
    const auto path = temp_file(std::string("latents_") + sampler + ".safetensors");
    backend_->save_artifact(*mid, path.string());
    auto back = backend_->load_artifact(path.string());
    const auto& a = dynamic_cast<const LatentsArtifact&>(*mid);
    const auto& b = dynamic_cast<const LatentsArtifact&>(*back);
    EXPECT_EQ(b.steps_done(), 2);
    EXPECT_EQ(b.total, a.total);
    EXPECT_TRUE(at::equal(a.latents, b.latents));
    expect_same_named(a.sampler_state, b.sampler_state);
    expect_same_named(a.noise_state, b.noise_state);
    EXPECT_EQ(b.identity.seed, p.request.seed);
    EXPECT_EQ(b.identity.sampler, sampler);
    EXPECT_EQ(a.bytes(), b.bytes());
  }
}

TEST_F(BackendCheckpoints, ResumeFromMidRunCheckpointGivesTheSameImage) {
  for (const char* sampler : {"pndm", "euler_a", "dpmpp_2m", "lms"}) {
    SCOPED_TRACE(sampler);
    sdk::GenerationParams p = run_->params;
    p.request.sampler = sampler;
    p.request.steps = 6;
    sdk::ArtifactPtr checkpoint;
    const auto uninterrupted = run_keeping(p, 3, &checkpoint);
    ASSERT_TRUE(checkpoint);
    ASSERT_EQ(checkpoint->steps_done(), 3);
    TorchBackend fresh(cpu_context());  // a new process would start like this
    fresh.load(run_->model_dir.string());
    auto cond = fresh.encode(p);
    RecordingObserver observer;
    auto latents = fresh.denoise(p, *cond, checkpoint.get(), observer);
    ASSERT_FALSE(observer.events.empty());
    EXPECT_EQ(observer.events.front().step, 4);
    EXPECT_EQ(observer.events.back().step, observer.events.back().total);
    const auto resumed = fresh.decode(p, *latents, nullptr);
    ASSERT_EQ(resumed.size(), 1u);
    EXPECT_EQ(resumed[0].rgb, uninterrupted[0].rgb);
  }
}

TEST_F(BackendCheckpoints, ResumeWithOtherSettingsIsRefusedNamingTheField) {
  sdk::ArtifactPtr checkpoint;
  run_keeping(run_->params, 2, &checkpoint);
  ASSERT_TRUE(checkpoint);
  sdk::GenerationParams other = run_->params;
  other.request.seed += 1;
  auto cond = backend_->encode(other);
  RecordingObserver observer;
  try {
    backend_->denoise(other, *cond, checkpoint.get(), observer);
    FAIL() << "resume with another seed was accepted";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_NE(std::string(e.what()).find("seed"), std::string::npos) << e.what();
  }
}

// Expects `fn` to throw invalid_request naming `what`.
template <class Fn>
void expect_refused(Fn&& fn, const std::string& what) {
  try {
    fn();
    ADD_FAILURE() << "a checkpoint of another " << what << " was accepted";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

// A checkpoint belongs to one request: another prompt, negative prompt, cfg_scale or clip_skip (same
// seed, size, steps and sampler) neither resumes it nor decodes it once it was read from a file.
TEST_F(BackendCheckpoints, ResumeOrDecodeForAnotherRequestIsRefused) {
  sdk::ArtifactPtr checkpoint;
  run_keeping(run_->params, 2, &checkpoint);
  ASSERT_TRUE(checkpoint);
  RecordingObserver quiet;
  const auto complete = backend_->denoise(run_->params, *backend_->encode(run_->params), nullptr, quiet);
  const auto path = temp_file("complete.safetensors");
  backend_->save_artifact(*complete, path.string());
  const auto from_file = backend_->load_artifact(path.string());
  EXPECT_EQ(backend_->decode(run_->params, *from_file, nullptr)[0].rgb,
            backend_->decode(run_->params, *complete, nullptr)[0].rgb);
  const std::vector<std::function<void(sdk::GenerationRequest&)>> changes{
      [](sdk::GenerationRequest& r) { r.prompt += " at night"; },
      [](sdk::GenerationRequest& r) { r.negative_prompt = "green"; },
      [](sdk::GenerationRequest& r) { r.cfg_scale += 1; },
      [](sdk::GenerationRequest& r) { r.clip_skip = 2; }};
  for (std::size_t i = 0; i < changes.size(); ++i) {
    SCOPED_TRACE("change " + std::to_string(i));
    sdk::GenerationParams other = run_->params;
    changes[i](other.request);
    const auto cond = backend_->encode(other);
    RecordingObserver observer;
    expect_refused([&] { backend_->denoise(other, *cond, checkpoint.get(), observer); }, "request digest");
    EXPECT_TRUE(observer.events.empty());
    expect_refused([&] { backend_->decode(other, *from_file, nullptr); }, "request digest");
  }
}

// The same request on another model folder (here a copy: another path) is another model.
TEST_F(BackendCheckpoints, ResumeOnAnotherModelIsRefused) {
  sdk::ArtifactPtr checkpoint;
  run_keeping(run_->params, 2, &checkpoint);
  ASSERT_TRUE(checkpoint);
  const auto copy = temp_file("model-copy");
  std::filesystem::remove_all(copy);
  std::filesystem::copy(run_->model_dir, copy, std::filesystem::copy_options::recursive);
  TorchBackend other(cpu_context());
  other.load(copy.string());
  const auto cond = other.encode(run_->params);
  RecordingObserver observer;
  expect_refused([&] { other.denoise(run_->params, *cond, checkpoint.get(), observer); }, "model identity");
  std::filesystem::remove_all(copy);
}

TEST_F(BackendCheckpoints, StepEventsReportEveryIteration) {
  auto cond = backend_->encode(run_->params);
  RecordingObserver observer;
  backend_->denoise(run_->params, *cond, nullptr, observer);
  ASSERT_EQ(observer.events.size(), 5u);  // PNDM: 4 steps = 5 UNet iterations
  for (std::size_t i = 0; i < observer.events.size(); ++i) {
    EXPECT_EQ(observer.events[i].step, static_cast<int>(i) + 1);
    EXPECT_EQ(observer.events[i].total, 5);
    EXPECT_TRUE(observer.events[i].finite);
    EXPECT_GE(observer.events[i].step_ms, 0.0);
  }
}

TEST_F(BackendCheckpoints, LoadingAForeignFileIsAModelError) {
  try {
    backend_->load_artifact((run_->model_dir / "unet" / "diffusion_pytorch_model.safetensors").string());
    FAIL() << "a weights file loaded as a checkpoint";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::model_error) << e.what();
  }
}

}  // namespace
}  // namespace ftdr::test
