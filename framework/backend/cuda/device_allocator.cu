#include "framework/backend/cuda/device_allocator.h"

#include "framework/backend/cuda/cuda_check.h"

namespace trident::backend::cuda {

CachingAllocator& device_allocator() {
  static CachingAllocator* allocator = new CachingAllocator(
      [](size_t bytes) -> void* {
        void* p = nullptr;
        if (cudaMalloc(&p, bytes) != cudaSuccess) {
          (void)cudaGetLastError();  // clear it: the caller releases the cache and retries
          return nullptr;
        }
        return p;
      },
      [](void* p) { TRIDENT_LIB_CHECK(CudaRuntime, cudaFree(p)); }, /*small_unit=*/512, /*large_unit=*/512,
      /*large_threshold=*/0);
  return *allocator;
}

}  // namespace trident::backend::cuda
