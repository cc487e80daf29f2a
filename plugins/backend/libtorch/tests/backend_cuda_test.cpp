// The libtorch backend on a CUDA device: placement, generation equal to diffusers' CPU image,
// caching-allocator statistics, and a real device out-of-memory classified as out_of_memory.
// Skipped (by name) where libtorch has no CUDA device, as on the CPU-only CI.
#include <gtest/gtest.h>

#include "adapter/error_classifier.hpp"
#include "adapter/memory_stats.hpp"
#include "adapter/torch_backend.hpp"
#include "backend_test_support.hpp"
#include "common/reference.hpp"

namespace ftdr::test {
namespace {

using torchbe::TorchBackend;

#define FTDR_REQUIRE_CUDA()          \
  if (!torchbe::cuda_is_available()) \
  GTEST_SKIP() << "no CUDA device in this libtorch build: CUDA test skipped"

sdk::PluginContext cuda_context(const std::string& dtype, const std::string& attention) {
  return context_with(std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{
      {"device", std::string("cuda")}, {"dtype", dtype}, {"attention", attention}}));
}

std::vector<sdk::Image> generate_on_cuda(TorchBackend& backend, const sdk::GenerationParams& p) {
  for (const char* c : {"text_encoder", "unet", "vae"}) backend.place(c, sdk::Device::cuda);
  auto cond = backend.encode(p);
  RecordingObserver observer;
  auto latents = backend.denoise(p, *cond, nullptr, observer);
  for (const auto& e : observer.events) EXPECT_TRUE(e.finite);
  return backend.decode(p, *latents, nullptr);
}

TEST(BackendCuda, F32ImageOnTheDeviceMatchesDiffusers) {
  FTDR_REQUIRE_CUDA();
  FTDR_REQUIRE_REFERENCE(root);
  at::globalContext().setAllowTF32CuDNN(false);  // full f32 convolutions, as the CPU reference
  at::globalContext().setAllowTF32CuBLAS(false);
  const ReferenceRun run = reference_run(root, "tiny-sd1", "pipe.pndm.s4");
  TorchBackend backend(cuda_context("f32", "naive"));
  EXPECT_EQ(backend.device(), sdk::Device::cuda);
  backend.load(run.model_dir.string());
  const auto images = generate_on_cuda(backend, run.params);
  for (const auto& c : backend.components()) EXPECT_EQ(c.location, sdk::Device::cuda) << c.name;
  ASSERT_EQ(images.size(), 1u);
  EXPECT_LE(max_rgb8_diff(images[0], run.image), 1);
}

TEST(BackendCuda, ReducedPrecisionAndSdpaStayCloseToTheReference) {
  FTDR_REQUIRE_CUDA();
  FTDR_REQUIRE_REFERENCE(root);
  const ReferenceRun run = reference_run(root, "tiny-sd2v", "pipe.ddim.s4");
  for (const char* dtype : {"f32", "f16", "bf16"}) {
    SCOPED_TRACE(dtype);
    TorchBackend backend(cuda_context(dtype, "sdpa"));
    backend.load(run.model_dir.string());
    sdk::GenerationParams p = run.params;
    p.options.upcast_vae = true;
    p.options.dtype = backend.info().dtype;  // as the engine starts a job (f32 would upcast every phase)
    const auto images = generate_on_cuda(backend, p);
    ASSERT_EQ(images.size(), 1u);
    const int diff = max_rgb8_diff(images[0], run.image);
    std::cout << "[ cuda " << dtype << " sdpa ] max |rgb8 - diffusers| = " << diff << "\n";
    EXPECT_LE(diff, std::string(dtype) == "f32" ? 2 : 40);
  }
}

TEST(BackendCuda, MemoryStatsComeFromTheCachingAllocator) {
  FTDR_REQUIRE_CUDA();
  const at::Device dev(at::kCUDA, 0);
  torchbe::release_cached_memory(dev);
  torchbe::reset_peak_memory_stats(dev);
  const auto before = torchbe::query_memory_stats(dev);
  EXPECT_EQ(before.device, sdk::Device::cuda);
  EXPECT_GT(before.total_bytes, 1ull << 30);
  EXPECT_LE(before.free_bytes, before.total_bytes);
  std::uint64_t during_alloc = 0;
  {
    at::Tensor block = at::empty({256 * 1024 * 1024}, at::TensorOptions().dtype(at::kByte).device(dev));
    const auto during = torchbe::query_memory_stats(dev);
    during_alloc = during.allocated_bytes;
    EXPECT_GE(during.allocated_bytes, before.allocated_bytes + (256u << 20));
    EXPECT_GE(during.reserved_bytes, during.allocated_bytes);
    EXPECT_GE(during.peak_bytes, during.allocated_bytes);
    EXPECT_GT(during.rss_bytes, 0u);
  }
  const auto after = torchbe::query_memory_stats(dev);
  EXPECT_LT(after.allocated_bytes, during_alloc);
  EXPECT_GE(after.peak_bytes, during_alloc);    // the peak remembers
  EXPECT_GE(after.reserved_bytes, 256u << 20);  // the cache keeps the block
  torchbe::release_cached_memory(dev);
  torchbe::reset_peak_memory_stats(dev);
  const auto released = torchbe::query_memory_stats(dev);
  EXPECT_LT(released.reserved_bytes, 256u << 20);
  EXPECT_LT(released.peak_bytes, during_alloc);
}

TEST(BackendCuda, ARealDeviceOutOfMemoryIsClassified) {
  FTDR_REQUIRE_CUDA();
  try {
    torchbe::run_classified("denoise", [] {
      return at::empty({int64_t{1} << 50}, at::TensorOptions().dtype(at::kByte).device(at::kCUDA));  // 1 PiB
    });
    FAIL() << "a 1 PiB allocation succeeded";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::out_of_memory) << e.what();
  }
  at::Tensor still_works = at::ones({4}, at::kCUDA) * 2;
  EXPECT_EQ(still_works.sum().item<float>(), 8.f);
}

}  // namespace
}  // namespace ftdr::test
