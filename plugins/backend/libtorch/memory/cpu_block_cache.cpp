// memory/cpu_block_cache.cpp: see cpu_block_cache.hpp.
#include "memory/cpu_block_cache.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <dlfcn.h>
#include <sys/mman.h>
#include <torch/version.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ftdr::torchbe {
namespace {

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

void unmap(const std::vector<std::pair<void*, std::size_t>>& blocks) {
  for (const auto& [base, bytes] : blocks) munmap(base, bytes);
}

void* map_block(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    C10_THROW_ERROR(OutOfMemoryError, "CPU out of memory: could not map " + std::to_string(bytes) +
                                          " bytes for a tensor (" + std::strerror(err) + ")");
  }
  return p;
}

// The blocks, by address while a tensor holds them and by size while free, with the counters. One
// per process, never destroyed: tensors may be freed during static destruction.
class BlockCache {
 public:
  // A free block that fits `bytes` with at most 1/8 to spare, or nullptr after unmapping every
  // free block (the caller then maps a new one, so the process never holds both).
  void* take(std::size_t bytes) {
    std::vector<std::pair<void*, std::size_t>> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.lower_bound(bytes);
      if (it != free_.end() && it->first <= bytes + bytes / 8) {
        const auto [size, base] = *it;
        free_.erase(it);
        cached_bytes_ -= size;
        hold_locked(base, size);
        ++hits_;
        return base;
      }
      dropped = drain_locked();
      ++misses_;
    }
    unmap(dropped);
    return nullptr;
  }

  void mapped(void* base, std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_locked(base, bytes);
  }

  // False when `p` is not a block of the cache (it came from the fallback allocator).
  bool give_back(void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = held_.find(p);
    if (it == held_.end()) return false;
    const std::size_t bytes = it->second;
    held_.erase(it);
    live_bytes_ -= bytes;
    cached_bytes_ += bytes;
    free_.emplace(bytes, p);
    return true;
  }

  void release() {
    std::vector<std::pair<void*, std::size_t>> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      dropped = drain_locked();
    }
    unmap(dropped);
  }

  CpuBlockCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {false, hits_, misses_, live_bytes_, cached_bytes_};  // installed: set by the caller
  }

 private:
  void hold_locked(void* base, std::size_t bytes) {
    held_.emplace(base, bytes);
    live_bytes_ += bytes;
  }

  std::vector<std::pair<void*, std::size_t>> drain_locked() {
    std::vector<std::pair<void*, std::size_t>> out;
    out.reserve(free_.size());
    for (const auto& [bytes, base] : free_) out.emplace_back(base, bytes);
    free_.clear();
    cached_bytes_ = 0;
    return out;
  }

  mutable std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;       // by size: lower_bound finds the best fit
  std::unordered_map<void*, std::size_t> held_;  // blocks tensors hold, by address
  std::uint64_t hits_ = 0, misses_ = 0, live_bytes_ = 0, cached_bytes_ = 0;
};

BlockCache& cache() {
  static auto* c = new BlockCache;  // NOLINT(cppcoreguidelines-owning-memory): lives for the process
  return *c;
}

// The allocator. Every pointer it hands out is its own context and is freed through free_any(),
// so libtorch's raw_allocate()/raw_deallocate() keep working (libtorch's own CPU allocator
// supports them, and callers may rely on that).
class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(c10::Allocator* fallback) : fallback_(fallback) {}

// libtorch 2.3 made allocate() non-const and added copy_data().
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  c10::DataPtr allocate(std::size_t n) override { return allocate_block(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#else
  c10::DataPtr allocate(std::size_t n) const override { return allocate_block(n); }
#endif
  c10::DeleterFnPtr raw_deleter() const override { return &free_any; }

  static void free_any(void* p);

 private:
  c10::DataPtr allocate_block(std::size_t n) const {
    void* p = nullptr;
    if (n < kMinCachedBlockBytes) {
      p = fallback_->raw_allocate(n);
    } else {
      const std::size_t bytes = round_up(n, kCachedBlockGranularity);
      p = cache().take(bytes);
      if (p == nullptr) {
        p = map_block(bytes);
        cache().mapped(p, bytes);
      }
    }
    return {p, p, &free_any, c10::Device(c10::DeviceType::CPU)};
  }

  c10::Allocator* fallback_;
};

c10::Allocator* fallback_allocator = nullptr;

void CachingCpuAllocator::free_any(void* p) {
  if (p != nullptr && !cache().give_back(p)) fallback_allocator->raw_deallocate(p);
}

std::once_flag installed_once;
std::atomic<bool> installed{false};

// Marks the shared library holding this code as never unloaded; true when that worked or the code
// is in the executable itself (never unloaded anyway).
bool pin_this_library() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&cache), &info) == 0 || info.dli_fname == nullptr) return false;
  // The handle is kept on purpose: it is what keeps the library loaded.
  if (dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE) != nullptr) return true;
  std::error_code ec;
  return std::filesystem::equivalent(info.dli_fname, "/proc/self/exe", ec);
}

}  // namespace

void install_cpu_block_cache() {
  std::call_once(installed_once, [] {
    if (!pin_this_library()) return;  // libtorch would call into code that may be unloaded
    fallback_allocator = c10::GetCPUAllocator();
    // libtorch's own CPU allocator has raw_allocate(); one that does not is left in place.
    if (fallback_allocator->raw_deleter() == nullptr) return;
    static auto* allocator = new CachingCpuAllocator(fallback_allocator);  // NOLINT: process lifetime
    c10::SetCPUAllocator(allocator, /*priority=*/0);
    installed = c10::GetCPUAllocator() == allocator;
  });
}

void release_cpu_block_cache() { cache().release(); }

CpuBlockCacheStats cpu_block_cache_stats() {
  CpuBlockCacheStats s = cache().stats();
  s.installed = installed;
  return s;
}

}  // namespace ftdr::torchbe
