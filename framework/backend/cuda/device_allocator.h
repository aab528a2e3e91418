// Caching device allocator: cudaMalloc'ed blocks kept in per-size free
// lists after release, so a training iteration reuses the previous one's
// buffers instead of paying cudaMalloc/cudaFree (which synchronise the
// device) each time. Statistics for the log's memory report.
#pragma once

#include <cstddef>

namespace trident::backend::cuda {

struct DeviceAllocatorStats {
  size_t in_use_bytes = 0;
  size_t peak_bytes = 0;
  size_t cached_bytes = 0;
};

void* device_allocate(size_t bytes);
void device_release(void* ptr, size_t bytes);
void device_release_cache();  // cudaFree every cached block
DeviceAllocatorStats device_allocator_stats();

}  // namespace trident::backend::cuda
