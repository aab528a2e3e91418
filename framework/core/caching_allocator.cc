#include "framework/core/caching_allocator.h"

#include <algorithm>

#include "framework/core/error.h"

namespace trident {

CachingAllocator::CachingAllocator(RawAllocate allocate, RawFree free, size_t small_unit, size_t large_unit,
                                   size_t large_threshold)
    : raw_allocate_(allocate), raw_free_(free), small_unit_(small_unit), large_unit_(large_unit),
      large_threshold_(large_threshold) {}

size_t CachingAllocator::round(size_t bytes) const {
  const size_t unit = bytes < large_threshold_ ? small_unit_ : large_unit_;
  return bytes == 0 ? unit : (bytes + unit - 1) / unit * unit;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = round(bytes);
  {
    std::lock_guard lock(mutex_);
    stats_.in_use_bytes += size;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.in_use_bytes);
    auto it = free_blocks_.find(size);
    if (it != free_blocks_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      stats_.cached_bytes -= size;
      return p;
    }
  }
  void* p = raw_allocate_(size);
  if (p == nullptr) {  // memory may be sitting in other sizes' free lists
    release_cache();
    p = raw_allocate_(size);
  }
  if (p == nullptr) {
    std::lock_guard lock(mutex_);
    stats_.in_use_bytes -= size;
  }
  TRIDENT_CHECK(p != nullptr, "out of memory allocating ", bytes, " bytes (", stats().in_use_bytes, " in use)");
  return p;
}

void CachingAllocator::release(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t size = round(bytes);
  std::lock_guard lock(mutex_);
  free_blocks_[size].push_back(ptr);
  stats_.in_use_bytes -= size;
  stats_.cached_bytes += size;
}

void CachingAllocator::release_cache() {
  std::lock_guard lock(mutex_);
  for (auto& [size, blocks] : free_blocks_)
    for (void* p : blocks) raw_free_(p);
  free_blocks_.clear();
  stats_.cached_bytes = 0;
}

AllocatorStats CachingAllocator::stats() {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace trident
