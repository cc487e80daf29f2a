// What the libtorch backend tells the memory policies: memory statistics, the activation
// estimate's scaling, diagnostics (BLAS, versions), placement, and tiled VAE decoding.
#include <gtest/gtest.h>

#include "adapter/blas_info.hpp"
#include "adapter/memory_stats.hpp"
#include "adapter/torch_backend.hpp"
#include "artifacts/latents_artifact.hpp"
#include "backend_test_support.hpp"
#include "common/reference.hpp"
#include "nn/onednn_conv.hpp"
#include "nn/onednn_linear.hpp"
#include "nn/winograd_conv.hpp"

namespace ftdr::test {
namespace {

using torchbe::TorchBackend;

TEST(BackendMemory, CpuStatsComeFromProc) {
  const sdk::MemoryStats s = torchbe::query_memory_stats(at::kCPU);
  EXPECT_EQ(s.device, sdk::Device::cpu);
  EXPECT_GT(s.total_bytes, 0u);
  EXPECT_GT(s.free_bytes, 0u);
  EXPECT_LE(s.free_bytes, s.total_bytes);
  EXPECT_GT(s.rss_bytes, 0u);
  EXPECT_GE(s.peak_bytes, s.rss_bytes);
  // Touch 64 MiB: the peak must see it.
  torchbe::reset_peak_memory_stats(at::kCPU);
  {
    at::Tensor big = at::ones({16 * 1024 * 1024}, at::kFloat);
    EXPECT_GE(torchbe::query_memory_stats(at::kCPU).peak_bytes, s.rss_bytes + 32u * 1024 * 1024);
  }
  EXPECT_NO_THROW(torchbe::release_cached_memory(at::kCPU));
}

TEST(BackendDiagnostics, NamesTheBlasLibraryAndVersions) {
  const std::string blas = torchbe::describe_blas();
  EXPECT_EQ(blas.rfind("blas: ", 0), 0u) << blas;
  TorchBackend backend(cpu_context());
  const auto lines = backend.diagnostics();
  auto has = [&](const std::string& prefix) {
    for (const auto& l : lines)
      if (l.rfind(prefix, 0) == 0) return true;
    return false;
  };
  EXPECT_TRUE(has("libtorch: ")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(has("device: cpu"));
  EXPECT_TRUE(has("dtype: f32"));
  EXPECT_TRUE(has("threads: "));
  EXPECT_TRUE(has("blas: "));
  EXPECT_TRUE(has(torchbe::onednn_direct_conv_built() ? "convolutions: large images' bands call oneDNN "
                                                      : "convolutions: through libtorch ("))
      << ::testing::PrintToString(lines);
  EXPECT_TRUE(has(torchbe::winograd_conv_available()
                      ? "3x3 convolutions: Winograd F(2x2, 3x3) (AVX2 + FMA) for float32 images of at least "
                        "8 MiB and 4096 pixels"
                      : "3x3 convolutions: oneDNN's direct ones (Winograd F(2x2, 3x3) needs AVX2 and FMA"))
      << ::testing::PrintToString(lines);
  EXPECT_TRUE(has(torchbe::onednn_direct_linear_built()
                      ? "linear layers: large float32 GEMMs call oneDNN "
                      : "linear layers: large float32 GEMMs through libtorch's mkldnn_linear"))
      << ::testing::PrintToString(lines);
  EXPECT_TRUE(has("cpu_block_cache: on (")) << "cpu_block_cache = true is the default";
  std::cout << "[ diagnostics ] " << blas << "\n";
}

class BackendResources : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (auto root = reference_dir()) {
      run_ = std::make_unique<ReferenceRun>(reference_run(*root, "tiny-sd1", "pipe.pndm.s4"));
      backend_ = std::make_unique<TorchBackend>(cpu_context());
      backend_->load(run_->model_dir.string());
    }
  }
  static void TearDownTestSuite() {
    backend_.reset();
    run_.reset();
  }
  void SetUp() override {
    if (!backend_) GTEST_SKIP() << "reference data not found at " << reference_dir_candidate();
  }
  static std::unique_ptr<ReferenceRun> run_;
  static std::unique_ptr<TorchBackend> backend_;
};
std::unique_ptr<ReferenceRun> BackendResources::run_;
std::unique_ptr<TorchBackend> BackendResources::backend_;

TEST_F(BackendResources, EstimateScalesWithSizeBatchAndAttention) {
  sdk::GenerationParams p = run_->params;
  p.options.attention = sdk::AttentionMode::naive;
  const auto base = backend_->estimate_activation_bytes(sdk::Phase::diffusion, p);
  EXPECT_GT(base, 0u);
  auto twice = p;
  twice.batch = 2;
  EXPECT_GT(backend_->estimate_activation_bytes(sdk::Phase::diffusion, twice), base * 3 / 2);
  auto big = p;
  big.width = big.height = 256;
  const auto big_naive = backend_->estimate_activation_bytes(sdk::Phase::diffusion, big);
  EXPECT_GT(big_naive, base * 4);
  // Attention is quadratic in the token count: 4x the pixels, over 4x the bytes. (Both sizes have
  // scores over 32 MiB, counted for one head at a time as the CPU computes them; 64x64 is below.)
  auto bigger = big;
  bigger.width = bigger.height = 512;
  EXPECT_GT(backend_->estimate_activation_bytes(sdk::Phase::diffusion, bigger), big_naive * 4);
  big.options.attention = sdk::AttentionMode::sliced;
  big.options.attention_slice_size = 64;
  EXPECT_LT(backend_->estimate_activation_bytes(sdk::Phase::diffusion, big), big_naive);
  EXPECT_GT(backend_->estimate_activation_bytes(sdk::Phase::encoding, p), 0u);
  auto decode_big = p;
  decode_big.width = decode_big.height = 512;
  const auto whole = backend_->estimate_activation_bytes(sdk::Phase::decoding, decode_big);
  decode_big.options.vae_tiling = true;
  EXPECT_LT(backend_->estimate_activation_bytes(sdk::Phase::decoding, decode_big), whole);
  EXPECT_EQ(backend_->estimate_activation_bytes(sdk::Phase::initializing, p), 0u);
}

TEST_F(BackendResources, PlacingOnCudaWithoutCudaIsRefused) {
  EXPECT_EQ(backend_->device(), sdk::Device::cpu);
  EXPECT_NO_THROW(backend_->place("unet", sdk::Device::cpu));
  EXPECT_THROW(backend_->place("unet", sdk::Device::cuda), sdk::Error);
  EXPECT_THROW(backend_->place("safety_checker", sdk::Device::cpu), sdk::Error);
}

// A plan of overlapping tiles with positive weights blends back to nearly the whole decode (the
// VAE's receptive field differs at tile borders); a single full tile of weight 1 is identical.
TEST_F(BackendResources, TiledDecodeBlendsTiles) {
  sdk::GenerationParams p = run_->params;
  p.request.steps = 2;
  auto cond = backend_->encode(p);
  RecordingObserver observer;
  auto latents = backend_->denoise(p, *cond, nullptr, observer);
  const auto whole = backend_->decode(p, *latents, nullptr);
  const int h = p.height / 2, w = p.width / 2, s = 2;
  sdk::TilePlan one;
  one.scale = s;
  one.tiles.push_back({0, 0, h, w, std::vector<float>(static_cast<std::size_t>(h * s * w * s), 1.f)});
  p.options.vae_tiling = true;
  EXPECT_EQ(backend_->decode(p, *latents, &one)[0].rgb, whole[0].rgb);
  sdk::TilePlan halves;
  halves.scale = s;
  halves.tiles.push_back(
      {0, 0, h, w / 2 + 4, std::vector<float>(static_cast<std::size_t>(h * s * (w / 2 + 4) * s), 1.f)});
  halves.tiles.push_back({0, w / 2 - 4, h, w - (w / 2 - 4),
                          std::vector<float>(static_cast<std::size_t>(h * s * (w - (w / 2 - 4)) * s), 1.f)});
  const auto tiled = backend_->decode(p, *latents, &halves);
  ASSERT_EQ(tiled[0].rgb.size(), whole[0].rgb.size());
  // Left of the overlap only tile 0 contributes: equal to decoding tile 0's latents alone.
  auto left =
      std::make_shared<torchbe::LatentsArtifact>(dynamic_cast<const torchbe::LatentsArtifact&>(*latents));
  left->latents = left->latents.slice(3, 0, w / 2 + 4);
  const auto left_image = backend_->decode(run_->params, *left, nullptr)[0];
  const int left_width = left_image.width, only_left = (w / 2 - 4) * s;
  for (int y = 0; y < p.height; ++y)
    for (int x = 0; x < only_left * 3; ++x)
      ASSERT_EQ(tiled[0].rgb[(y * p.width) * 3 + x], left_image.rgb[(y * left_width) * 3 + x])
          << "y " << y << " x " << x;
  sdk::TilePlan bad = halves;
  bad.tiles[1].weight.pop_back();
  try {
    backend_->decode(p, *latents, &bad);
    FAIL() << "a tile with too few weights was accepted";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_NE(std::string(e.what()).find("tile 1"), std::string::npos) << e.what();
  }
  bad = halves;
  bad.tiles.pop_back();  // leaves the right part uncovered
  EXPECT_THROW(backend_->decode(p, *latents, &bad), sdk::Error);
}

}  // namespace
}  // namespace ftdr::test
