#include "framework/backend/cuda/device_allocator.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "framework/backend/cuda/cuda_check.h"

namespace trident::backend::cuda {
namespace {

// 512-byte granularity keeps every block aligned for vector loads and maps
// buffers of one shape to one free list.
size_t round_size(size_t bytes) { return std::max<size_t>(512, (bytes + 511) / 512 * 512); }

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  DeviceAllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache;  // outlives static destructors that may free tensors
  return *c;
}

}  // namespace

void* device_allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  Cache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    c.stats.in_use_bytes += size;
    c.stats.peak_bytes = std::max(c.stats.peak_bytes, c.stats.in_use_bytes);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cached_bytes -= size;
      return p;
    }
  }
  void* p = nullptr;
  if (cudaMalloc(&p, size) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error, free the cache, try once more
    device_release_cache();
    CUDA_CHECK(cudaMalloc(&p, size));
  }
  return p;
}

void device_release(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t size = round_size(bytes);
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.free_blocks[size].push_back(ptr);
  c.stats.in_use_bytes -= size;
  c.stats.cached_bytes += size;
}

void device_release_cache() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  for (auto& [size, blocks] : c.free_blocks)
    for (void* p : blocks) CUDA_CHECK(cudaFree(p));
  c.free_blocks.clear();
  c.stats.cached_bytes = 0;
}

DeviceAllocatorStats device_allocator_stats() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.stats;
}

}  // namespace trident::backend::cuda
