// Causal self-attention, the straightforward algorithm (the CPU backend's):
// heads split into (B·H, T, D) buffers, scores = QKᵀ/√D and P·V as batched
// cuBLASLt GEMMs, a causal softmax kernel (one warp per row); P is kept
// for backward. A fused flash-style kernel is the next step.
#include <cmath>

#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/launch_utils.cuh"

namespace trident::backend::cuda {
namespace {

enum Slot { kQ = 3, kK, kV, kY, kDProbs, kDQ, kDK, kDV };

// src rows of width `width`, columns [col0 + h·D, col0 + (h+1)·D) of (B, T, width)  <->  (B·H, T, D).
__global__ void split_heads_kernel(const float* src, int64_t B, int64_t T, int64_t H, int64_t D, int64_t width,
                                   int64_t col0, float* dst) {
  const int64_t n = B * H * T * D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i % D, t = (i / D) % T, h = (i / (D * T)) % H, b = i / (D * T * H);
    dst[i] = src[(b * T + t) * width + col0 + h * D + d];
  }
}

__global__ void merge_heads_kernel(const float* src, int64_t B, int64_t T, int64_t H, int64_t D, int64_t width,
                                   int64_t col0, float* dst) {
  const int64_t n = B * H * T * D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i % D, t = (i / D) % T, h = (i / (D * T)) % H, b = i / (D * T * H);
    dst[(b * T + t) * width + col0 + h * D + d] = src[i];
  }
}

// Row t of each (T, T) score matrix: softmax over columns 0..t, zeros after.
__global__ void causal_softmax_kernel(float* p, int64_t rows, int64_t T) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const int64_t t = row % T;
  float* r = p + row * T;
  float mx = -INFINITY;
  for (int64_t j = lane; j <= t; j += 32) mx = fmaxf(mx, r[j]);
  mx = warp_max(mx);
  float sum = 0.f;
  for (int64_t j = lane; j <= t; j += 32) {
    const float e = expf(r[j] - mx);
    r[j] = e;
    sum += e;
  }
  const float inv = 1.f / warp_sum(sum);
  for (int64_t j = lane; j < T; j += 32) r[j] = j <= t ? r[j] * inv : 0.f;
}

// dS = P ∘ (dP − rowsum(P ∘ dP)) · scale, in place over dP.
__global__ void causal_softmax_backward_kernel(const float* p, float* dp, int64_t rows, int64_t T, float scale) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const int64_t t = row % T;
  const float* pr = p + row * T;
  float* dr = dp + row * T;
  float dot = 0.f;
  for (int64_t j = lane; j <= t; j += 32) dot += pr[j] * dr[j];
  dot = warp_sum(dot);
  for (int64_t j = lane; j < T; j += 32) dr[j] = j <= t ? pr[j] * (dr[j] - dot) * scale : 0.f;
}

// q, k, v (B·H, T, D) from qkv (B, T, 3C).
void split_qkv(const Tensor& qkv, int64_t B, int64_t T, int64_t H, int64_t D, Tensor& q, Tensor& k, Tensor& v,
               cudaStream_t stream) {
  const int64_t n = B * H * T * D, C = H * D;
  split_heads_kernel<<<grid_for(n), kThreads, 0, stream>>>(f32_in(qkv), B, T, H, D, 3 * C, 0, f32_out(q));
  split_heads_kernel<<<grid_for(n), kThreads, 0, stream>>>(f32_in(qkv), B, T, H, D, 3 * C, C, f32_out(k));
  split_heads_kernel<<<grid_for(n), kThreads, 0, stream>>>(f32_in(qkv), B, T, H, D, 3 * C, 2 * C, f32_out(v));
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::attention_forward(const Tensor& qkv, int n_heads, Tensor& out, Tensor& probs) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, H = n_heads, D = C / H;
  TRIDENT_CHECK(qkv.size(2) == 3 * C && C % H == 0 && out.numel() == B * T * C && probs.numel() == B * H * T * T,
                "attention shapes");
  const int64_t n = B * H * T * D;
  Tensor q = scratch(kQ, {B * H, T, D}), k = scratch(kK, {B * H, T, D}), v = scratch(kV, {B * H, T, D});
  split_qkv(qkv, B, T, H, D, q, k, v, stream_);
  Tensor p = probs.view({B * H, T, T});
  gemm(q, false, k, true, p, 1.f / std::sqrt(float(D)), 0.f);
  causal_softmax_kernel<<<unsigned((B * H * T * 32 + kThreads - 1) / kThreads), kThreads, 0, stream_>>>(
      f32_out(p), B * H * T, T);
  CUDA_CHECK_LAUNCH();
  Tensor y = scratch(kY, {B * H, T, D});
  gemm(p, false, v, false, y, 1.f, 0.f);
  merge_heads_kernel<<<grid_for(n), kThreads, 0, stream_>>>(f32_in(y), B, T, H, D, C, 0, f32_out(out));
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& probs, int n_heads,
                                     Tensor& dqkv) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, H = n_heads, D = C / H;
  TRIDENT_CHECK(dout.numel() == B * T * C && dqkv.numel() == qkv.numel() && probs.numel() == B * H * T * T,
                "attention backward shapes");
  const int64_t n = B * H * T * D;
  Tensor q = scratch(kQ, {B * H, T, D}), k = scratch(kK, {B * H, T, D}), v = scratch(kV, {B * H, T, D});
  split_qkv(qkv, B, T, H, D, q, k, v, stream_);
  Tensor dy = scratch(kY, {B * H, T, D});
  split_heads_kernel<<<grid_for(n), kThreads, 0, stream_>>>(f32_in(dout), B, T, H, D, C, 0, f32_out(dy));
  CUDA_CHECK_LAUNCH();
  const Tensor p = probs.view({B * H, T, T});
  Tensor dv = scratch(kDV, {B * H, T, D}), dp = scratch(kDProbs, {B * H, T, T});
  gemm(p, true, dy, false, dv, 1.f, 0.f);   // dV = Pᵀ dY
  gemm(dy, false, v, true, dp, 1.f, 0.f);   // dP = dY Vᵀ
  causal_softmax_backward_kernel<<<unsigned((B * H * T * 32 + kThreads - 1) / kThreads), kThreads, 0, stream_>>>(
      f32_in(p), f32_out(dp), B * H * T, T, 1.f / std::sqrt(float(D)));
  CUDA_CHECK_LAUNCH();
  Tensor dq = scratch(kDQ, {B * H, T, D}), dk = scratch(kDK, {B * H, T, D});
  gemm(dp, false, k, false, dq, 1.f, 0.f);  // dQ = dS K
  gemm(dp, true, q, false, dk, 1.f, 0.f);   // dK = dSᵀ Q
  merge_heads_kernel<<<grid_for(n), kThreads, 0, stream_>>>(f32_in(dq), B, T, H, D, 3 * C, 0, f32_out(dqkv));
  merge_heads_kernel<<<grid_for(n), kThreads, 0, stream_>>>(f32_in(dk), B, T, H, D, 3 * C, C, f32_out(dqkv));
  merge_heads_kernel<<<grid_for(n), kThreads, 0, stream_>>>(f32_in(dv), B, T, H, D, 3 * C, 2 * C, f32_out(dqkv));
  CUDA_CHECK_LAUNCH();
}

}  // namespace trident::backend::cuda
