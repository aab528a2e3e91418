// CachingAllocator: keeps freed blocks in per-size free lists and hands
// them out again. Every training iteration allocates the same activation
// and gradient buffers; fresh host allocations of that size are mmap'ed and
// page-faulted by the kernel each time (~10% of a CPU iteration, measured),
// and cudaMalloc/cudaFree synchronise the device. One implementation serves
// host memory (host_allocator.h) and device memory (the CUDA backend), each
// with its own raw allocate/free functions.
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace trident {

struct AllocatorStats {
  size_t in_use_bytes = 0;  // held by live tensors
  size_t peak_bytes = 0;    // high-water mark of in_use_bytes
  size_t cached_bytes = 0;  // freed, kept for reuse
};

class CachingAllocator {
 public:
  using RawAllocate = void* (*)(size_t bytes);  // returns nullptr when out of memory
  using RawFree = void (*)(void* ptr);
  // Sizes round up to `small_unit` below `large_threshold` bytes and to
  // `large_unit` above, so buffers of one shape land in one free list.
  CachingAllocator(RawAllocate allocate, RawFree free, size_t small_unit, size_t large_unit, size_t large_threshold);

  // Throws trident::Error when the raw allocator fails even after the cache is released.
  void* allocate(size_t bytes);
  void release(void* ptr, size_t bytes);
  void release_cache();  // returns every cached block to the raw allocator
  AllocatorStats stats();

 private:
  size_t round(size_t bytes) const;

  RawAllocate raw_allocate_;
  RawFree raw_free_;
  size_t small_unit_, large_unit_, large_threshold_;
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_blocks_;
  AllocatorStats stats_;
};

}  // namespace trident
