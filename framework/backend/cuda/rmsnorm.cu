// RMSNorm, as layernorm.cu: one warp per row for the statistic and dx; the
// weight gradient as fixed-order column sums (see cuda_backend.h).
//
//   forward:  x̂ = x · rstd, rstd = 1/√(mean(x²) + eps), out = x̂ · w
//   backward: dx = rstd · (w·dy − x̂ · mean(w·dy·x̂)), dw += Σ_rows dy · x̂
#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/element.cuh"

namespace trident::backend::cuda {

__global__ void sum_partials_kernel(const float* partial, int64_t chunks, int64_t cols, float* out);  // layernorm.cu

namespace {

template <typename T>
__global__ void rmsnorm_forward_kernel(const T* x, const T* w, float eps, T* out, float* rstd, int64_t N,
                                       int64_t C) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= N) return;
  const T* xr = x + row * C;
  float sum_sq = 0.f;
  for (int64_t c = lane; c < C; c += 32) {
    const float v = to_float(xr[c]);
    sum_sq += v * v;
  }
  const float rs = rsqrtf(warp_sum(sum_sq) / float(C) + eps);
  T* orow = out + row * C;
  for (int64_t c = lane; c < C; c += 32) orow[c] = from_float<T>(to_float(xr[c]) * rs * to_float(w[c]));
  if (lane == 0) rstd[row] = rs;
}

template <typename T>
__global__ void rmsnorm_backward_dx_kernel(const T* dout, const T* x, const T* w, const float* rstd, T* dx,
                                           int64_t N, int64_t C) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= N) return;
  const T* d = dout + row * C;
  const T* xr = x + row * C;
  const float rs = rstd[row];
  float sum_dy_xhat = 0.f;
  for (int64_t c = lane; c < C; c += 32) sum_dy_xhat += to_float(d[c]) * to_float(w[c]) * (to_float(xr[c]) * rs);
  const float mean_dy_xhat = warp_sum(sum_dy_xhat) / float(C);
  for (int64_t c = lane; c < C; c += 32) {
    const float xhat = to_float(xr[c]) * rs;
    dx[row * C + c] = from_float<T>(rs * (to_float(d[c]) * to_float(w[c]) - xhat * mean_dy_xhat));
  }
}

// partial[k, c] = Σ_{rows of chunk k} dout · x̂.
template <typename T>
__global__ void rmsnorm_backward_partials_kernel(const T* dout, const T* x, const float* rstd, int64_t N, int64_t C,
                                                 int64_t rows_per_chunk, float* partial) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const int64_t r0 = blockIdx.y * rows_per_chunk, r1 = min(N, r0 + rows_per_chunk);
  float acc = 0.f;
  for (int64_t r = r0; r < r1; ++r) acc += to_float(dout[r * C + c]) * (to_float(x[r * C + c]) * rstd[r]);
  partial[blockIdx.y * C + c] = acc;
}

}  // namespace

void CudaBackend::rmsnorm_forward(const Tensor& x, const Tensor& w, float eps, Tensor& out, Tensor& rstd) {
  const OpScope prof(*this, "rmsnorm_forward");
  const int64_t C = x.size(-1), N = x.numel() / C;
  TRIDENT_CHECK(w.numel() == C && out.numel() == x.numel() && rstd.numel() == N, "rmsnorm shapes");
  TRIDENT_CHECK(rstd.dtype() == DType::f32, "rmsnorm statistics are f32");
  check_same_dtype("rmsnorm_forward", {&x, &w, &out});
  const unsigned blocks = unsigned((N * 32 + kThreads - 1) / kThreads);
  dispatch_float(x.dtype(), "rmsnorm_forward", [&]<typename T>() {
    rmsnorm_forward_kernel<T><<<blocks, kThreads, 0, stream_>>>(in<T>(x), in<T>(w), eps, cuda::out<T>(out),
                                                                f32_out(rstd), N, C);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::rmsnorm_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Tensor& rstd,
                                   Tensor& dx, Tensor& dw) {
  const OpScope prof(*this, "rmsnorm_backward");
  const int64_t C = x.size(-1), N = x.numel() / C;
  TRIDENT_CHECK(w.numel() == C && dout.numel() == x.numel() && dx.numel() == x.numel() && rstd.numel() == N &&
                    dw.numel() == C, "rmsnorm backward shapes");
  TRIDENT_CHECK(rstd.dtype() == DType::f32 && dw.dtype() == DType::f32, "rmsnorm statistics and dw are f32");
  check_same_dtype("rmsnorm_backward", {&x, &dout, &w, &dx});
  const unsigned blocks = unsigned((N * 32 + kThreads - 1) / kThreads);
  const int64_t chunks = N < 64 ? (N < 1 ? 1 : N) : 64, rows_per_chunk = (N + chunks - 1) / chunks;
  Tensor partial = scratch(0, {chunks, C});
  const dim3 grid(unsigned((C + kThreads - 1) / kThreads), unsigned(chunks));
  dispatch_float(x.dtype(), "rmsnorm_backward", [&]<typename T>() {
    rmsnorm_backward_dx_kernel<T><<<blocks, kThreads, 0, stream_>>>(in<T>(dout), in<T>(x), in<T>(w), f32_in(rstd),
                                                                    out<T>(dx), N, C);
    TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
    rmsnorm_backward_partials_kernel<T><<<grid, kThreads, 0, stream_>>>(in<T>(dout), in<T>(x), f32_in(rstd), N, C,
                                                                        rows_per_chunk, f32_out(partial));
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  sum_partials_kernel<<<unsigned((C + kThreads - 1) / kThreads), kThreads, 0, stream_>>>(f32_in(partial), chunks, C,
                                                                                        f32_out(dw));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

}  // namespace trident::backend::cuda
