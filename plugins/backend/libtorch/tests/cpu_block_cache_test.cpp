// The CPU block cache (memory/cpu_block_cache.hpp): large blocks reused, a miss never holding old
// blocks beside the new one, small tensors and libtorch's raw allocation API left working.
#include "memory/cpu_block_cache.hpp"

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include "adapter/memory_stats.hpp"

namespace ftdr::test {
namespace {

using torchbe::cpu_block_cache_stats;
using torchbe::CpuBlockCacheStats;

constexpr std::int64_t kMiB = 1 << 20;

// A float32 tensor of `mib` MiB, every page written (so it is resident).
at::Tensor touched(std::int64_t mib) { return at::ones({mib * kMiB / 4}, at::kFloat); }

class CpuBlockCache : public ::testing::Test {
 protected:
  void SetUp() override {
    torchbe::install_cpu_block_cache();
    ASSERT_TRUE(cpu_block_cache_stats().installed) << "the cache did not become libtorch's CPU allocator";
    torchbe::release_cpu_block_cache();
  }
};

TEST_F(CpuBlockCache, ReusesAFreedBlockForTheSameShape) {
  const CpuBlockCacheStats before = cpu_block_cache_stats();
  const void* first = nullptr;
  {
    const at::Tensor t = touched(40);
    first = t.data_ptr();
  }
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 40u * kMiB);
  const at::Tensor again = touched(40);
  EXPECT_EQ(again.data_ptr(), first);
  const CpuBlockCacheStats after = cpu_block_cache_stats();
  EXPECT_EQ(after.hits, before.hits + 1);
  EXPECT_EQ(after.misses, before.misses + 1);
  EXPECT_EQ(after.cached_bytes, 0u);
  EXPECT_GE(after.live_bytes, 40u * kMiB);
}

TEST_F(CpuBlockCache, AMissUnmapsTheFreeBlocksBeforeMappingANewOne) {
  const std::uint64_t base = torchbe::query_memory_stats(at::kCPU).rss_bytes;
  { const at::Tensor a = touched(64); }
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 64u * kMiB);  // freed, kept, still resident
  const at::Tensor b = touched(128);                            // does not fit: a miss
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 0u);
  // The 64 MiB block is gone: resident is the 128 MiB tensor, not both (192 MiB).
  const std::uint64_t rss = torchbe::query_memory_stats(at::kCPU).rss_bytes;
  EXPECT_LT(rss, base + 160u * kMiB) << "RSS grew by " << ((rss - base) >> 20) << " MiB";
}

TEST_F(CpuBlockCache, DoesNotServeARequestFromABlockAnEighthTooLarge) {
  const void* big = nullptr;
  {
    const at::Tensor t = touched(100);
    big = t.data_ptr();
  }
  const std::uint64_t misses = cpu_block_cache_stats().misses;
  const at::Tensor small = touched(64);  // 100 MiB > 64 + 8: mapped anew, the 100 MiB block unmapped
  EXPECT_NE(small.data_ptr(), big);
  EXPECT_EQ(cpu_block_cache_stats().misses, misses + 1);
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 0u);
}

TEST_F(CpuBlockCache, SmallTensorsGoToLibtorchsAllocator) {
  const CpuBlockCacheStats before = cpu_block_cache_stats();
  for (int i = 0; i < 10; ++i) (void)touched(4);
  const CpuBlockCacheStats after = cpu_block_cache_stats();
  EXPECT_EQ(after.hits, before.hits);
  EXPECT_EQ(after.misses, before.misses);
  EXPECT_EQ(after.cached_bytes, 0u);
}

TEST_F(CpuBlockCache, RawAllocationKeepsWorking) {
  c10::Allocator* allocator = c10::GetCPUAllocator();
  ASSERT_NE(allocator->raw_deleter(), nullptr);
  for (std::size_t bytes : {std::size_t{1000}, std::size_t{40} * kMiB}) {
    void* p = allocator->raw_allocate(bytes);
    ASSERT_NE(p, nullptr);
    static_cast<char*>(p)[bytes - 1] = 1;
    allocator->raw_deallocate(p);
  }
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 40u * kMiB);
}

TEST_F(CpuBlockCache, ReleaseCachedMemoryEmptiesIt) {
  { const at::Tensor t = touched(40); }
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 40u * kMiB);
  torchbe::release_cached_memory(at::kCPU);
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 0u);
}

}  // namespace
}  // namespace ftdr::test
