// The caching allocator for device tensors (cudaMalloc underneath; 512-byte
// granularity keeps blocks aligned for vector loads); see
// framework/core/caching_allocator.h for why it caches.
#pragma once

#include "framework/core/caching_allocator.h"

namespace trident::backend::cuda {

CachingAllocator& device_allocator();

}  // namespace trident::backend::cuda
