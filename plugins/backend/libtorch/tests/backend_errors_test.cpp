// Failures come out of the libtorch backend as sdk::Error of the right kind: the classifier's
// rules, parameter validation naming the field, configuration errors naming the key, and the
// fault-injection seam.
#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include <new>

#include "adapter/backend_config.hpp"
#include "adapter/error_classifier.hpp"
#include "adapter/torch_backend.hpp"
#include "backend_test_support.hpp"
#include "common/reference.hpp"

namespace ftdr::test {
namespace {

using torchbe::classify_exception;
using torchbe::run_classified;

// libtorch's own exception with this message. Its (message, backtrace) constructor took the
// backtrace as a string before libtorch 2.x and as a lazily computed value since.
template <class E>
E torch_error(const std::string& message) {
#if TORCH_VERSION_MAJOR >= 2
  return E(message, nullptr);
#else
  return E(message, "");
#endif
}

template <class E>
sdk::Error classify(E e) {
  try {
    throw e;
  } catch (...) {
    return classify_exception(std::current_exception(), "denoise");
  }
}

TEST(ErrorClassifier, CudaOutOfMemoryTextIsOutOfMemory) {
  const auto e = classify(torch_error<c10::Error>(
      "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 3.81 GiB total capacity; "
      "1.2 GiB already allocated)"));
  EXPECT_EQ(e.kind(), sdk::ErrorKind::out_of_memory);
  EXPECT_NE(std::string(e.what()).find("denoise"), std::string::npos);
  EXPECT_NE(std::string(e.what()).find("Tried to allocate"), std::string::npos);
}

TEST(ErrorClassifier, OutOfMemoryErrorTypeAndBadAllocAreOutOfMemory) {
  EXPECT_EQ(classify(torch_error<c10::OutOfMemoryError>("allocation failed")).kind(),
            sdk::ErrorKind::out_of_memory);
  EXPECT_EQ(classify(std::bad_alloc()).kind(), sdk::ErrorKind::out_of_memory);
  EXPECT_EQ(classify(torch_error<c10::Error>(
                         "[enforce fail at alloc_cpu.cpp:75] DefaultCPUAllocator: can't allocate memory: "
                         "you tried to allocate 68719476736 bytes."))
                .kind(),
            sdk::ErrorKind::out_of_memory);
}

TEST(ErrorClassifier, DeviceFaultsSayWhetherTheyAreSticky) {
  const auto sticky =
      classify(torch_error<c10::Error>("CUDA error: an illegal memory access was encountered"));
  EXPECT_EQ(sticky.kind(), sdk::ErrorKind::device_error);
  EXPECT_NE(std::string(sticky.what()).find("sticky: the CUDA context is lost"), std::string::npos);
  const auto assert_fault = classify(torch_error<c10::Error>("CUDA error: device-side assert triggered"));
  EXPECT_NE(std::string(assert_fault.what()).find("sticky:"), std::string::npos);
  const auto transient = classify(
      torch_error<c10::Error>("CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling cublasSgemm"));
  EXPECT_EQ(transient.kind(), sdk::ErrorKind::device_error);
  EXPECT_NE(std::string(transient.what()).find("not sticky"), std::string::npos);
}

TEST(ErrorClassifier, OtherErrorsAreInternalAndSdkErrorsPassUnchanged) {
  EXPECT_EQ(
      classify(torch_error<c10::Error>("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)")).kind(),
      sdk::ErrorKind::internal);
  EXPECT_EQ(classify(std::runtime_error("boom")).kind(), sdk::ErrorKind::internal);
  const auto passed = classify(sdk::Error(sdk::ErrorKind::cancelled, "cancelled by the user"));
  EXPECT_EQ(passed.kind(), sdk::ErrorKind::cancelled);
  EXPECT_STREQ(passed.what(), "cancelled by the user");
  try {
    run_classified("encode", []() -> int { throw torch_error<c10::Error>("CUDA out of memory."); });
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::out_of_memory);
  }
}

sdk::Error config_error(std::map<std::string, MapConfig::Value> values, bool cuda = false) {
  try {
    torchbe::parse_backend_config(MapConfig(std::move(values)), cuda);
  } catch (const sdk::Error& e) {
    return e;
  }
  return sdk::Error(sdk::ErrorKind::internal, "no error");
}

TEST(BackendConfig, BadValuesAreRejectedNamingTheKey) {
  const auto cuda = config_error({{"device", std::string("cuda")}}, /*cuda=*/false);
  EXPECT_EQ(cuda.kind(), sdk::ErrorKind::invalid_request);
  EXPECT_NE(std::string(cuda.what()).find("'device'"), std::string::npos) << cuda.what();
  for (const auto& [key, value] :
       std::map<std::string, MapConfig::Value>{{"device", std::string("tpu")},
                                               {"dtype", std::string("f8")},
                                               {"threads", std::int64_t{-1}},
                                               {"attention", std::string("flash")},
                                               {"attention_slice_size", std::int64_t{-4}}}) {
    const auto e = config_error({{key, value}});
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request) << key;
    EXPECT_NE(std::string(e.what()).find("'" + key + "'"), std::string::npos) << e.what();
  }
}

TEST(BackendConfig, F16OnTheCpuFallsBackToF32WithAWarning) {
  const auto cfg = torchbe::parse_backend_config(
      MapConfig({{"device", std::string("cpu")}, {"dtype", std::string("f16")}}), false);
  EXPECT_EQ(cfg.dtype, sdk::DType::f32);
  ASSERT_EQ(cfg.warnings.size(), 1u);
  EXPECT_NE(cfg.warnings[0].find("f16"), std::string::npos);
  const auto bf16 = torchbe::parse_backend_config(MapConfig({{"dtype", std::string("bf16")}}), false);
  EXPECT_EQ(bf16.dtype, sdk::DType::bf16);
  EXPECT_TRUE(bf16.device.is_cpu());  // "auto" without CUDA
}

TEST(BackendConfig, CpuBlockCacheIsOnUnlessTurnedOff) {
  EXPECT_TRUE(torchbe::parse_backend_config(MapConfig(), false).cpu_block_cache);
  EXPECT_FALSE(torchbe::parse_backend_config(MapConfig({{"cpu_block_cache", false}}), false).cpu_block_cache);
}

TEST(BackendConfig, WinogradIsOnUnlessTurnedOff) {
  EXPECT_TRUE(torchbe::parse_backend_config(MapConfig(), false).winograd);
  EXPECT_FALSE(torchbe::parse_backend_config(MapConfig({{"winograd", false}}), false).winograd);
  try {
    torchbe::parse_backend_config(MapConfig({{"winograd", std::string("yes")}}), false);
    FAIL() << "winograd = \"yes\" was accepted";
  } catch (const sdk::Error& e) {
    EXPECT_NE(std::string(e.what()).find("winograd"), std::string::npos) << e.what();
  }
}

TEST(BackendConfig, JobOptionsOverrideTheConfiguredAttention) {
  auto cfg = torchbe::parse_backend_config(
      MapConfig({{"attention", std::string("sliced")}, {"attention_slice_size", std::int64_t{64}}}), false);
  sdk::RuntimeOptions options;
  auto s = torchbe::resolve_attention(cfg, options);
  EXPECT_EQ(s.mode, torchbe::AttentionMode::sliced);
  EXPECT_EQ(s.slice_size, 64);
  options.attention = sdk::AttentionMode::naive;
  EXPECT_EQ(torchbe::resolve_attention(cfg, options).mode, torchbe::AttentionMode::naive);
  options.attention = sdk::AttentionMode::sliced;
  options.attention_slice_size = 16;
  EXPECT_EQ(torchbe::resolve_attention(cfg, options).slice_size, 16);
}

// "auto" (the default) is the fused kernel wherever this libtorch has one.
TEST(BackendConfig, AutoAttentionIsSdpaOnLibtorch2) {
  const auto cfg = torchbe::parse_backend_config(MapConfig(), false);
  sdk::RuntimeOptions options;
  ASSERT_EQ(options.attention, sdk::AttentionMode::automatic);
  const auto expected =
      TORCH_VERSION_MAJOR >= 2 ? torchbe::AttentionMode::sdpa : torchbe::AttentionMode::naive;
  EXPECT_EQ(torchbe::resolve_attention(cfg, options).mode, expected);
}

class BackendValidation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (auto root = reference_dir()) {
      backend_ = std::make_unique<torchbe::TorchBackend>(cpu_context());
      backend_->load((*root / "tiny-sd1").string());
    }
  }
  static void TearDownTestSuite() { backend_.reset(); }
  void SetUp() override {
    if (!backend_) GTEST_SKIP() << "reference data not found at " << reference_dir_candidate();
    params_.width = params_.height = params_.request.width = params_.request.height = 64;
    params_.request.steps = 4;
    params_.request.prompt = "a cat";
  }
  void expect_rejected(const sdk::GenerationParams& p, const std::string& field) {
    try {
      backend_->validate(p);
      ADD_FAILURE() << field << ": accepted";
    } catch (const sdk::Error& e) {
      EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind(field, 0), 0u)
          << "message does not start with '" << field << "': " << e.what();
    }
  }
  static std::unique_ptr<torchbe::TorchBackend> backend_;
  sdk::GenerationParams params_;
};
std::unique_ptr<torchbe::TorchBackend> BackendValidation::backend_;

TEST_F(BackendValidation, BadParametersNameTheField) {
  EXPECT_NO_THROW(backend_->validate(params_));
  auto p = params_;
  p.width = 65;
  expect_rejected(p, "width");
  p = params_;
  p.height = 0;
  expect_rejected(p, "height");
  p = params_;
  p.request.steps = 0;
  expect_rejected(p, "steps");
  p = params_;
  p.request.steps = 5000;
  expect_rejected(p, "steps");
  p = params_;
  p.request.sampler = "heun";
  expect_rejected(p, "sampler");
  p = params_;
  p.batch = 0;
  expect_rejected(p, "batch");
  p = params_;
  p.request.clip_skip = 6;  // tiny-sd1's text encoder has 5 layers
  expect_rejected(p, "clip_skip");
  p = params_;
  p.request.eta = -1;
  expect_rejected(p, "eta");
}

TEST_F(BackendValidation, InjectedOomAtAStepIsClassifiedAsOutOfMemory) {
  backend_->set_fault_hook([](const std::string& point) {
    if (point == "denoise.step.2")
      throw torch_error<c10::Error>("CUDA out of memory. Tried to allocate 20.00 MiB");
  });
  auto cond = backend_->encode(params_);
  RecordingObserver observer;
  try {
    backend_->denoise(params_, *cond, nullptr, observer);
    ADD_FAILURE() << "the injected fault did not fire";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::out_of_memory) << e.what();
  }
  backend_->set_fault_hook({});
  EXPECT_EQ(observer.events.size(), 2u);  // steps 0 and 1 ran, step 2 failed before its UNet call
}

TEST_F(BackendValidation, ObserverErrorsPropagateUnchanged) {
  struct Cancel final : sdk::StepObserver {
    void on_step(const sdk::StepEvent&) override { throw sdk::Error(sdk::ErrorKind::cancelled, "stop"); }
  } cancel;
  auto cond = backend_->encode(params_);
  try {
    backend_->denoise(params_, *cond, nullptr, cancel);
    ADD_FAILURE() << "not cancelled";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::cancelled);
    EXPECT_STREQ(e.what(), "stop");
  }
}

// [backend.libtorch.faults] (faults/fault_plan.hpp) drives the same seam: an OOM at step 2 once, then
// NaN latents at step 1 once, then a NaN decode that the VAE health check turns into numerical_error.
TEST(TorchBackendFaults, ConfiguredFaultsFireOnceAtTheirPoint) {
  FTDR_REQUIRE_REFERENCE(root);
  auto cfg =
      std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{{"device", std::string("cpu")}});
  cfg->add_table("faults", std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{
                               {"oom", std::string("diffusion:step=2")},
                               {"nan", std::string("diffusion:step=1,decode")}}));
  torchbe::TorchBackend backend(context_with(cfg));
  backend.load((root / "tiny-sd1").string());
  sdk::GenerationParams p;
  p.width = p.height = 64;
  p.request.steps = 3;
  auto cond = backend.encode(p);
  RecordingObserver first;
  try {
    backend.denoise(p, *cond, nullptr, first);
    ADD_FAILURE() << "no injected fault";
  } catch (const sdk::Error& e) {
    // The NaN rule fires at step 1, the OOM rule at step 2.
    EXPECT_EQ(e.kind(), sdk::ErrorKind::out_of_memory) << e.what();
  }
  ASSERT_EQ(first.events.size(), 1u);
  EXPECT_FALSE(first.events[0].finite);
  RecordingObserver second;
  auto latents = backend.denoise(p, *cond, nullptr, second);  // both rules are spent
  for (const auto& e : second.events) EXPECT_TRUE(e.finite);
  try {
    backend.decode(p, *latents, nullptr);
    ADD_FAILURE() << "the poisoned decode passed the health check";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::numerical_error) << e.what();
  }
  EXPECT_EQ(backend.decode(p, *latents, nullptr).size(), 1u);
}

TEST(TorchBackendLoad, MissingFolderIsAModelError) {
  torchbe::TorchBackend backend(cpu_context());
  try {
    backend.load("/nonexistent/model");
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::model_error) << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(backend.info(), sdk::Error);
}

}  // namespace
}  // namespace ftdr::test
