// SwiGLU, Megatron's chunk order: each row of x (N, 2F) holds [gate | up];
// out (N, F) = silu(gate) · up. One thread per output element, grid-stride.
//
//   silu(g) = g · s, s = sigmoid(g); silu'(g) = s · (1 + g · (1 − s))
//   dgate = dout · up · silu'(gate), dup = dout · silu(gate)
#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/element.cuh"

namespace trident::backend::cuda {
namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__device__ __forceinline__ float sigmoid(float g) { return 1.f / (1.f + expf(-g)); }

template <typename T>
__global__ void swiglu_forward_kernel(const T* x, T* out, int64_t N, int64_t F) {
  GRID_STRIDE(i, N * F) {
    const int64_t r = i / F, f = i % F;
    const float g = to_float(x[r * 2 * F + f]), u = to_float(x[r * 2 * F + F + f]);
    out[i] = from_float<T>(g * sigmoid(g) * u);
  }
}

template <typename T>
__global__ void swiglu_backward_kernel(const T* x, const T* dout, T* dx, int64_t N, int64_t F) {
  GRID_STRIDE(i, N * F) {
    const int64_t r = i / F, f = i % F;
    const float g = to_float(x[r * 2 * F + f]), u = to_float(x[r * 2 * F + F + f]), d = to_float(dout[i]);
    const float s = sigmoid(g);
    dx[r * 2 * F + f] = from_float<T>(d * u * s * (1.f + g * (1.f - s)));
    dx[r * 2 * F + F + f] = from_float<T>(d * g * s);
  }
}

}  // namespace

void CudaBackend::swiglu_forward(const Tensor& x, Tensor& out) {
  const OpScope prof(*this, "swiglu_forward");
  TRIDENT_CHECK(x.size(-1) > 0 && x.size(-1) % 2 == 0, "swiglu of rows of ", x.size(-1), ": not [gate | up]");
  const int64_t F = x.size(-1) / 2, N = x.numel() / (2 * F);
  TRIDENT_CHECK(out.size(-1) == F && out.numel() == N * F, "swiglu shapes");
  check_same_dtype("swiglu_forward", {&x, &out});
  dispatch_float(x.dtype(), "swiglu_forward", [&]<typename T>() {
    swiglu_forward_kernel<T><<<grid_for(N * F), kThreads, 0, stream_>>>(in<T>(x), cuda::out<T>(out), N, F);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::swiglu_backward(const Tensor& x, const Tensor& dout, Tensor& dx) {
  const OpScope prof(*this, "swiglu_backward");
  TRIDENT_CHECK(x.size(-1) > 0 && x.size(-1) % 2 == 0, "swiglu of rows of ", x.size(-1), ": not [gate | up]");
  const int64_t F = x.size(-1) / 2, N = x.numel() / (2 * F);
  TRIDENT_CHECK(dout.size(-1) == F && dout.numel() == N * F && dx.numel() == x.numel(),
                "swiglu backward shapes");
  check_same_dtype("swiglu_backward", {&x, &dout, &dx});
  dispatch_float(x.dtype(), "swiglu_backward", [&]<typename T>() {
    swiglu_backward_kernel<T><<<grid_for(N * F), kThreads, 0, stream_>>>(in<T>(x), in<T>(dout), out<T>(dx), N, F);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

}  // namespace trident::backend::cuda
