#include "framework/core/host_allocator.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "framework/core/error.h"

namespace trident {
namespace {

// Small blocks round to 64 bytes, large ones to 4 KiB pages, so buffers of
// one shape always land in the same free list.
size_t round_size(size_t bytes) {
  const size_t unit = bytes < 65536 ? 64 : 4096;
  return bytes == 0 ? unit : (bytes + unit - 1) / unit * unit;
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  HostAllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may outlive static destructors
  return *c;
}

}  // namespace

void* host_allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  Cache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    auto it = c.free_blocks.find(size);
    c.stats.in_use_bytes += size;
    c.stats.peak_bytes = std::max(c.stats.peak_bytes, c.stats.in_use_bytes);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cached_bytes -= size;
      return p;
    }
  }
  void* p = std::aligned_alloc(64, size);
  if (p == nullptr) {
    host_release_cache();
    p = std::aligned_alloc(64, size);
  }
  TRIDENT_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
  return p;
}

void host_free(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t size = round_size(bytes);
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.free_blocks[size].push_back(ptr);
  c.stats.in_use_bytes -= size;
  c.stats.cached_bytes += size;
}

void host_release_cache() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  for (auto& [size, blocks] : c.free_blocks)
    for (void* p : blocks) std::free(p);
  c.free_blocks.clear();
  c.stats.cached_bytes = 0;
}

HostAllocatorStats host_allocator_stats() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.stats;
}

}  // namespace trident
