// Layer norm: one warp per row for the statistics and dx; the weight and
// bias gradients as fixed-order column sums (see cuda_backend.h).
#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/element.cuh"

namespace trident::backend::cuda {
namespace {

template <typename T>
__global__ void layernorm_forward_kernel(const T* x, const T* w, const T* b, float eps, T* out,
                                         float* mean, float* rstd, int64_t N, int64_t C) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= N) return;
  const T* xr = x + row * C;
  float sum = 0.f;
  for (int64_t c = lane; c < C; c += 32) sum += to_float(xr[c]);
  const float mu = warp_sum(sum) / float(C);
  float var = 0.f;
  for (int64_t c = lane; c < C; c += 32) {
    const float d = to_float(xr[c]) - mu;
    var += d * d;
  }
  const float rs = rsqrtf(warp_sum(var) / float(C) + eps);
  T* orow = out + row * C;
  for (int64_t c = lane; c < C; c += 32)
    orow[c] = from_float<T>((to_float(xr[c]) - mu) * rs * to_float(w[c]) + to_float(b[c]));
  if (lane == 0) {
    mean[row] = mu;
    rstd[row] = rs;
  }
}

template <typename T>
__global__ void layernorm_backward_dx_kernel(const T* dout, const T* x, const T* w, const float* mean,
                                             const float* rstd, T* dx, int64_t N, int64_t C) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= N) return;
  const T* d = dout + row * C;
  const T* xr = x + row * C;
  const float mu = mean[row], rs = rstd[row];
  float sum_dy = 0.f, sum_dy_xhat = 0.f;
  for (int64_t c = lane; c < C; c += 32) {
    const float dy = to_float(d[c]) * to_float(w[c]);
    sum_dy += dy;
    sum_dy_xhat += dy * (to_float(xr[c]) - mu) * rs;
  }
  const float mean_dy = warp_sum(sum_dy) / float(C), mean_dy_xhat = warp_sum(sum_dy_xhat) / float(C);
  for (int64_t c = lane; c < C; c += 32) {
    const float xhat = (to_float(xr[c]) - mu) * rs;
    dx[row * C + c] = from_float<T>(rs * (to_float(d[c]) * to_float(w[c]) - mean_dy - xhat * mean_dy_xhat));
  }
}

// partial_w[k, c] = Σ_{rows of chunk k} dout·x̂, partial_b likewise with dout.
template <typename T>
__global__ void layernorm_backward_partials_kernel(const T* dout, const T* x, const float* mean,
                                                   const float* rstd, int64_t N, int64_t C, int64_t rows_per_chunk,
                                                   float* partial_w, float* partial_b) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const int64_t r0 = blockIdx.y * rows_per_chunk, r1 = min(N, r0 + rows_per_chunk);
  float aw = 0.f, ab = 0.f;
  for (int64_t r = r0; r < r1; ++r) {
    const float d = to_float(dout[r * C + c]);
    aw += d * (to_float(x[r * C + c]) - mean[r]) * rstd[r];
    ab += d;
  }
  partial_w[blockIdx.y * C + c] = aw;
  partial_b[blockIdx.y * C + c] = ab;
}

}  // namespace

// Sums partial[k, c] over k in order into out[c] (accumulating).
__global__ void sum_partials_kernel(const float* partial, int64_t chunks, int64_t cols, float* out) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= cols) return;
  float acc = 0.f;
  for (int64_t k = 0; k < chunks; ++k) acc += partial[k * cols + c];
  out[c] += acc;
}

void CudaBackend::layernorm_forward(const Tensor& x, const Tensor& w, const Tensor& b, float eps, Tensor& out,
                                    Tensor& mean, Tensor& rstd) {
  const OpScope prof(*this, "layernorm_forward");
  const int64_t C = x.size(-1), N = x.numel() / C;
  TRIDENT_CHECK(w.numel() == C && b.numel() == C && out.numel() == x.numel() && mean.numel() == N &&
                    rstd.numel() == N, "layernorm shapes");
  const unsigned blocks = unsigned((N * 32 + kThreads - 1) / kThreads);
  check_same_dtype("layernorm_forward", {&x, &w, &b, &out});
  dispatch_float(x.dtype(), "layernorm_forward", [&]<typename T>() {
    layernorm_forward_kernel<T><<<blocks, kThreads, 0, stream_>>>(in<T>(x), in<T>(w), in<T>(b), eps,
                                                                  cuda::out<T>(out), f32_out(mean), f32_out(rstd), N, C);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Tensor& mean,
                                     const Tensor& rstd, Tensor& dx, Tensor& dw, Tensor& db) {
  const OpScope prof(*this, "layernorm_backward");
  const int64_t C = x.size(-1), N = x.numel() / C;
  const unsigned blocks = unsigned((N * 32 + kThreads - 1) / kThreads);
  check_same_dtype("layernorm_backward", {&x, &dout, &w, &dx});
  const int64_t chunks = N < 64 ? N : 64, rows_per_chunk = (N + chunks - 1) / chunks;
  Tensor partial = scratch(0, {2, chunks, C});
  const dim3 grid(unsigned((C + kThreads - 1) / kThreads), unsigned(chunks));
  dispatch_float(x.dtype(), "layernorm_backward", [&]<typename T>() {
    layernorm_backward_dx_kernel<T><<<blocks, kThreads, 0, stream_>>>(in<T>(dout), in<T>(x), in<T>(w),
                                                                      f32_in(mean), f32_in(rstd), out<T>(dx), N, C);
    TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
    layernorm_backward_partials_kernel<T><<<grid, kThreads, 0, stream_>>>(
        in<T>(dout), in<T>(x), f32_in(mean), f32_in(rstd), N, C, rows_per_chunk, f32_out(partial),
        f32_out(partial) + chunks * C);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  const unsigned cblocks = unsigned((C + kThreads - 1) / kThreads);
  sum_partials_kernel<<<cblocks, kThreads, 0, stream_>>>(f32_in(partial), chunks, C, f32_out(dw));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  sum_partials_kernel<<<cblocks, kThreads, 0, stream_>>>(f32_in(partial) + chunks * C, chunks, C, f32_out(db));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

}  // namespace trident::backend::cuda
