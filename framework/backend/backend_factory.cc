// Chooses a backend by device. The CUDA entry points are defined in cuda/
// when the build has the CUDA backend, and here (as clear errors) when not.
#include "framework/backend/backend.h"

#include "framework/core/error.h"

namespace trident::backend {

#ifndef TRIDENT_WITH_CUDA
bool cuda_backend_built() { return false; }
int cuda_device_count() { return 0; }
std::unique_ptr<Backend> make_cuda_backend(int) {
  throw UsageError(
      "this build of trident has no CUDA backend: install the CUDA toolkit with NCCL and rebuild "
      "(-DTRIDENT_CUDA=ON), or use --device cpu");
}
#endif

std::unique_ptr<Backend> make_backend(Device device, int threads, int cuda_device) {
  if (device == Device::cuda) return make_cuda_backend(cuda_device);
  return make_cpu_backend(threads);
}

}  // namespace trident::backend
