// memory/cpu_block_cache.hpp: libtorch's CPU allocator, with large blocks kept for reuse.
//
//   install_cpu_block_cache();          // once per process (TorchBackend does it); later calls no-op
//   ... run networks ...
//   release_cpu_block_cache();          // hand every cached block back to the kernel
//
// Why: glibc's malloc serves every block over 32 MiB with a fresh mmap and unmaps it on free, so
// each large activation (a VAE decode at 512x512 makes dozens of 128-256 MiB tensors, the UNet's
// attention at 64x64 latents 64 MiB ones) is new pages that the kernel faults in and zeroes, on
// every op of every step. The cache keeps freed blocks of kMinCachedBlockBytes or more and hands
// them to the next request that fits.
//
// Memory promise: the cache never raises the process's peak. A request no cached block can serve
// first unmaps every cached block and only then maps a new one, so resident memory is at most the
// live tensors' memory at the last fresh map; a request served from the cache maps nothing. Blocks
// are never split or merged. Smaller requests go to libtorch's own allocator unchanged.
//
// Results do not change: only where a tensor's bytes live does (libtorch's kernels do not depend
// on the address beyond its 64-byte alignment, which page-aligned blocks exceed).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ftdr::torchbe {

// Requests of at least this many bytes are cached: glibc's largest mmap threshold, above which
// malloc always maps fresh pages.
inline constexpr std::size_t kMinCachedBlockBytes = std::size_t{32} << 20;

// Block sizes are rounded up to this (huge-page size), so recurring shapes share blocks.
inline constexpr std::size_t kCachedBlockGranularity = std::size_t{2} << 20;

struct CpuBlockCacheStats {
  bool installed = false;
  std::uint64_t hits = 0;          // requests served by a cached block
  std::uint64_t misses = 0;        // requests that mapped a new block
  std::uint64_t live_bytes = 0;    // blocks held by tensors now
  std::uint64_t cached_bytes = 0;  // freed blocks kept for reuse now
};

// Makes the cache libtorch's CPU allocator for the rest of the process and keeps this code loaded
// (the plugin library is marked not-unloadable: tensors freed after an unload would call into it).
void install_cpu_block_cache();

// Unmaps every cached block. Blocks held by tensors are untouched. Thread-safe; any time.
void release_cpu_block_cache();

CpuBlockCacheStats cpu_block_cache_stats();

}  // namespace ftdr::torchbe
