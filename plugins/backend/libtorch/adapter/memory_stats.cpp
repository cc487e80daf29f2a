// backend/memory_stats.cpp: see memory_stats.h.
#include "adapter/memory_stats.hpp"
#include "memory/cpu_block_cache.hpp"

#include <malloc.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#if defined(FTDR_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

namespace ftdr::torchbe {
namespace {

// Reads "<key>: <n> kB" from a /proc file; 0 when absent.
std::uint64_t proc_kb(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      std::istringstream fields(line.substr(key.size() + 1));
      std::uint64_t kb = 0;
      fields >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

sdk::MemoryStats cpu_stats() {
  sdk::MemoryStats s;
  s.device = sdk::Device::cpu;
  s.total_bytes = proc_kb("/proc/meminfo", "MemTotal");
  s.free_bytes = proc_kb("/proc/meminfo", "MemAvailable");
  s.rss_bytes = proc_kb("/proc/self/status", "VmRSS");
  s.peak_bytes = proc_kb("/proc/self/status", "VmHWM");
  return s;
}

#if defined(FTDR_WITH_CUDA)
sdk::MemoryStats cuda_stats(const at::Device& device) {
  sdk::MemoryStats s = cpu_stats();  // keeps rss_bytes of the process
  s.device = sdk::Device::cuda;
  const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  // Index 0 is StatType::AGGREGATE in every libtorch version (the enum moved namespaces in 2.x).
  s.allocated_bytes = static_cast<std::uint64_t>(stats.allocated_bytes[0].current);
  s.reserved_bytes = static_cast<std::uint64_t>(stats.reserved_bytes[0].current);
  s.peak_bytes = static_cast<std::uint64_t>(stats.allocated_bytes[0].peak);
  std::size_t free_b = 0, total_b = 0;
  int previous = 0;
  cudaGetDevice(&previous);
  cudaSetDevice(index);
  if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) {
    s.free_bytes = free_b;
    s.total_bytes = total_b;
  }
  cudaSetDevice(previous);
  return s;
}
#endif

}  // namespace

bool cuda_is_available() { return at::hasCUDA(); }

double cap_device_memory(const at::Device& device, std::uint64_t budget_bytes) {
#if defined(FTDR_WITH_CUDA)
  if (device.is_cuda() && budget_bytes > 0) {
    const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
    const sdk::MemoryStats s = cuda_stats(device);
    if (s.total_bytes == 0) return 0;
    const double fraction =
        std::min(1.0, static_cast<double>(budget_bytes) / static_cast<double>(s.total_bytes));
    c10::cuda::CUDACachingAllocator::setMemoryFraction(fraction, index);
    return fraction;
  }
#endif
  (void)device;
  (void)budget_bytes;
  return 0;
}

sdk::MemoryStats query_memory_stats(const at::Device& device) {
#if defined(FTDR_WITH_CUDA)
  if (device.is_cuda()) return cuda_stats(device);
#endif
  (void)device;
  return cpu_stats();
}

void reset_peak_memory_stats(const at::Device& device) {
#if defined(FTDR_WITH_CUDA)
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index()
                                                                       : c10::cuda::current_device());
    return;
  }
#endif
  (void)device;
  std::ofstream clear("/proc/self/clear_refs");
  if (clear) clear << "5";  // resets VmHWM to the current RSS
}

void release_cached_memory(const at::Device& device) {
#if defined(FTDR_WITH_CUDA)
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::emptyCache();
  }
#endif
  (void)device;
  release_cpu_block_cache();
  malloc_trim(0);  // also on CUDA runs: offloaded weights live in host memory
}

}  // namespace ftdr::torchbe
