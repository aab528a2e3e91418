// The process's caching allocator for host tensors (64-byte aligned, for
// AVX-512); see caching_allocator.h for why it caches.
#pragma once

#include "framework/core/caching_allocator.h"

namespace trident {

CachingAllocator& host_allocator();

}  // namespace trident
