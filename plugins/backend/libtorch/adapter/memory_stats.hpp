// adapter/memory_stats.hpp: device and host memory as the memory policies see it.
//
// On CUDA (only in builds where libtorch has CUDA: FTDR_WITH_CUDA) the numbers come from the
// caching allocator (allocated / reserved / peak allocated since the last reset) and cudaMemGetInfo
// (free / total). On the CPU: total = MemTotal, free = MemAvailable (/proc/meminfo), rss = VmRSS
// and peak = VmHWM (/proc/self/status); the peak is reset by writing "5" to /proc/self/clear_refs
// (Linux >= 4.0; silently kept when the kernel refuses).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

#include "ftdr/sdk/types.hpp"

namespace ftdr::torchbe {

sdk::MemoryStats query_memory_stats(const at::Device& device);
void reset_peak_memory_stats(const at::Device& device);
// CUDA: return cached blocks to the driver (emptyCache). CPU (on CUDA runs too): unmap the CPU
// block cache's free blocks (memory/cpu_block_cache.hpp) and malloc_trim(0).
void release_cached_memory(const at::Device& device);

// Caps the CUDA caching allocator of `device` at `budget_bytes` (setMemoryFraction with budget /
// the device's total memory, at most 1), so an allocation beyond the budget raises CUDA's
// out-of-memory error even when the device has more. Returns the fraction set; 0 on the CPU (no
// allocator cap there: the budget is only the policies' input) and for budget_bytes == 0.
double cap_device_memory(const at::Device& device, std::uint64_t budget_bytes);

// True when libtorch can run on a CUDA device in this process.
bool cuda_is_available();

}  // namespace ftdr::torchbe
