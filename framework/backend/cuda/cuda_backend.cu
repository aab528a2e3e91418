#include "framework/backend/cuda/cuda_backend.h"

#include <cstdlib>

#include "framework/backend/cuda/cuda_check.h"
#include "framework/backend/cuda/device_allocator.h"
#include "framework/backend/cuda/element.cuh"
#include "framework/core/device_memory.h"

namespace trident::backend {

bool cuda_backend_built() { return true; }

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no GPU: not an error here
    return 0;
  }
  return n;
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
  const int n = cuda_device_count();
  TRIDENT_USAGE_CHECK(n > 0, "--device cuda was asked for but no GPU is visible to this process "
                             "(check nvidia-smi and CUDA_VISIBLE_DEVICES), or use --device cpu");
  TRIDENT_USAGE_CHECK(device >= 0 && device < n, "GPU ", device, " was asked for but only ", n,
                      " are visible (CUDA_VISIBLE_DEVICES)");
  return std::make_unique<cuda::CudaBackend>(device);
}

namespace cuda {
namespace {

cudaMemcpyKind copy_kind(Device dst, Device src) {
  if (dst == Device::cpu) return src == Device::cpu ? cudaMemcpyHostToHost : cudaMemcpyDeviceToHost;
  return src == Device::cpu ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice;
}

const DeviceMemoryOps kCudaMemory = {
    [](size_t bytes) { return device_allocator().allocate(bytes); },
    [](void* p, size_t bytes) { device_allocator().release(p, bytes); },
    [](void* p, size_t bytes) { TRIDENT_LIB_CHECK(CudaRuntime, cudaMemset(p, 0, bytes)); },
    [](void* dst, Device dd, const void* src, Device sd, size_t bytes) {
      // cudaMemcpy on the legacy default stream waits for the compute
      // stream's work (created blocking), so a copy sees finished results.
      TRIDENT_LIB_CHECK(CudaRuntime, cudaMemcpy(dst, src, bytes, copy_kind(dd, sd)));
    },
    [](const void* src, DType st, void* dst, DType dt, size_t n) {
      // On the legacy default stream too: ordered after the compute stream's
      // work and before any later work on it.
      convert_on_device(src, st, dst, dt, int64_t(n), cudaStreamLegacy);
    },
};

}  // namespace

CudaBackend::CudaBackend(int device) : device_(device) {
  const char* prof = std::getenv("TRIDENT_CUDA_PROFILE");
  profiling_ = prof && *prof && std::string(prof) != "0";
  TRIDENT_LIB_CHECK(CudaRuntime, cudaSetDevice(device));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamCreate(&stream_));
  TRIDENT_LIB_CHECK(CublasLt, cublasLtCreate(&lt_));
  // TRIDENT_GEMM_WORKSPACE_MB: cuBLASLt's workspace (default 32 MiB), for experiments.
  if (const char* mb = std::getenv("TRIDENT_GEMM_WORKSPACE_MB"); mb && std::atoi(mb) > 0)
    workspace_bytes_ = size_t(std::atoi(mb)) << 20;
  gemm_verbose_ = std::getenv("TRIDENT_GEMM_VERBOSE") != nullptr;
  TRIDENT_LIB_CHECK(CudaRuntime, cudaMalloc(&workspace_, workspace_bytes_));
  register_device_memory(Device::cuda, kCudaMemory);
}

CudaBackend::~CudaBackend() {
  if (profiling_) log_profile();
  // Tensors may outlive the backend; only what it owns itself is freed here.
  for (auto& [key, g] : gemm_cache_) {
    cublasLtMatrixLayoutDestroy(g.a);
    cublasLtMatrixLayoutDestroy(g.b);
    cublasLtMatrixLayoutDestroy(g.c);
    cublasLtMatmulDescDestroy(g.op);
  }
  scratch_.clear();
  rope_tables_.clear();
  cudaFree(workspace_);
  cublasLtDestroy(lt_);
  cudaStreamDestroy(stream_);
}

std::string CudaBackend::name() const {
  cudaDeviceProp prop{};
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetDeviceProperties(&prop, device_));
  return "cuda(" + std::to_string(device_) + ": " + prop.name + ")";
}

void CudaBackend::synchronize() { TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamSynchronize(stream_)); }

Tensor CudaBackend::scratch(int slot, Shape shape, DType dtype) {
  if (scratch_.size() <= size_t(slot)) scratch_.resize(size_t(slot) + 1);
  Tensor& buf = scratch_[size_t(slot)];
  const int64_t n = shape_numel(shape);
  if (!buf.defined() || buf.numel() < n || buf.dtype() != dtype) {
    buf = Tensor();  // release the old buffer before taking the new one
    buf = Tensor::empty({n}, dtype, Device::cuda);
  }
  return buf.slice(0, n).view(std::move(shape));
}

}  // namespace cuda
}  // namespace trident::backend
