// Caching host allocator. Every iteration allocates the same activation
// and gradient buffers again; fresh allocations of that size are mmap'ed
// and page-faulted by the kernel each time, which cost ~10% of a training
// iteration. Freed blocks are kept in per-size free lists and handed out
// again, as GPU frameworks' caching allocators do for device memory.
#pragma once

#include <cstddef>

namespace trident {

struct HostAllocatorStats {
  size_t in_use_bytes = 0;  // held by live tensors
  size_t peak_bytes = 0;    // high-water mark of in_use_bytes
  size_t cached_bytes = 0;  // freed, kept for reuse
};

// 64-byte aligned; `bytes` is rounded up to the allocator's granularity.
void* host_allocate(size_t bytes);
void host_free(void* ptr, size_t bytes);
// Returns every cached block to the system.
void host_release_cache();
HostAllocatorStats host_allocator_stats();

}  // namespace trident
