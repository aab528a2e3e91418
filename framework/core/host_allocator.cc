#include "framework/core/host_allocator.h"

#include <cstdlib>

namespace trident {

CachingAllocator& host_allocator() {
  // Never destroyed: tensors held by static objects may be freed after it.
  static CachingAllocator* allocator = new CachingAllocator(
      [](size_t bytes) { return std::aligned_alloc(64, bytes); }, [](void* p) { std::free(p); },
      /*small_unit=*/64, /*large_unit=*/4096, /*large_threshold=*/65536);
  return *allocator;
}

}  // namespace trident
