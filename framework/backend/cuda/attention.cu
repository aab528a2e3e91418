// Causal self-attention, the straightforward algorithm (the CPU backend's),
// for f32, for head sizes the fused kernels (flash_attention.cu) do not
// take, and for grouped-query attention:
// heads split into (B·H, T, D) buffers, scores = QKᵀ/√D and P·V as batched
// cuBLASLt GEMMs, a causal softmax kernel (one warp per row); P is kept in
// f32 for backward, as backend.h specifies.
//
// Grouped-query attention (n_kv_heads G < n_heads H): query head h uses
// key/value head h mod G, so the split gives K and V one copy per query
// head and the GEMMs are those of multi-head attention. Backward computes
// dK and dV per query head (in f32 then, so the group's sum is rounded
// once), and a reduction kernel adds the H/G heads of each group in a
// fixed order: no atomics, the same bits every run.
//
// With 16-bit activations the GEMM operands are 16-bit too (the tensor
// cores take no mixed f32 × bf16 product): the softmax also writes P
// rounded to the compute dtype for P·V, and the softmax backward writes dS
// rounded for dS·K and dSᵀ·Q, as Megatron's unfused path computes them.
// With 16-bit activations, head size 64 or 128 and G = H the fused kernels
// run instead and keep no (T, T) matrix at all.
#include <cmath>

#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/element.cuh"
#include "framework/backend/cuda/flash_attention.h"

namespace trident::backend::cuda {
namespace {

enum Slot { kQ = 3, kK, kV, kY, kDProbs, kDQ, kDK, kDV, kProbsLow = 12, kDScoresLow };

// (B, T, width) -> (B·H, T, D): head h of dst is source head h mod G, columns
// [col0 + (h mod G)·D, col0 + (h mod G + 1)·D) of each row (G = H: each head its own).
template <typename T>
__global__ void split_heads_kernel(const T* src, int64_t B, int64_t T_, int64_t H, int64_t G, int64_t D,
                                   int64_t width, int64_t col0, T* dst) {
  const int64_t n = B * H * T_ * D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i % D, t = (i / D) % T_, h = (i / (D * T_)) % H, b = i / (D * T_ * H);
    dst[i] = src[(b * T_ + t) * width + col0 + (h % G) * D + d];
  }
}

template <typename T>
__global__ void merge_heads_kernel(const T* src, int64_t B, int64_t T_, int64_t H, int64_t D, int64_t width,
                                   int64_t col0, T* dst) {
  const int64_t n = B * H * T_ * D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i % D, t = (i / D) % T_, h = (i / (D * T_)) % H, b = i / (D * T_ * H);
    dst[(b * T_ + t) * width + col0 + h * D + d] = src[i];
  }
}

// The reverse of a grouped split: (B·H, T, D) f32 -> columns [col0 + g·D, col0 + (g+1)·D)
// of (B, T, width), each the sum over the query heads g, g + G, g + 2G, ... in that order,
// rounded once.
template <typename T>
__global__ void merge_groups_kernel(const float* src, int64_t B, int64_t T_, int64_t H, int64_t G, int64_t D,
                                    int64_t width, int64_t col0, T* dst) {
  const int64_t n = B * G * T_ * D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i % D, t = (i / D) % T_, g = (i / (D * T_)) % G, b = i / (D * T_ * G);
    float acc = 0.f;
    for (int64_t h = g; h < H; h += G) acc += src[((b * H + h) * T_ + t) * D + d];
    dst[(b * T_ + t) * width + col0 + g * D + d] = from_float<T>(acc);
  }
}

// Row t of each (T, T) score matrix: softmax over columns 0..t, zeros
// after, in place in f32; `low` (when not null) gets the same rounded to T.
template <typename T>
__global__ void causal_softmax_kernel(float* p, T* low, int64_t rows, int64_t T_) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const int64_t t = row % T_;
  float* r = p + row * T_;
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
  for (int64_t j = lane; j < T_; j += 32) {
    const float v = j <= t ? r[j] * inv : 0.f;
    r[j] = v;
    if (low) low[row * T_ + j] = from_float<T>(v);
  }
}

// dS = P ∘ (dP − rowsum(P ∘ dP)) · scale, over dP in f32; written to ds
// (dP's own buffer when T is float).
template <typename T>
__global__ void causal_softmax_backward_kernel(const float* p, const float* dp, T* ds, int64_t rows, int64_t T_,
                                               float scale) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const int64_t t = row % T_;
  const float* pr = p + row * T_;
  const float* dr = dp + row * T_;
  float dot = 0.f;
  for (int64_t j = lane; j <= t; j += 32) dot += pr[j] * dr[j];
  dot = warp_sum(dot);
  // Each lane reads dr[j] before writing ds[j] at the same j: in place is safe.
  for (int64_t j = lane; j < T_; j += 32) ds[row * T_ + j] = from_float<T>(j <= t ? pr[j] * (dr[j] - dot) * scale : 0.f);
}

unsigned warp_rows_grid(int64_t rows) { return unsigned((rows * 32 + kThreads - 1) / kThreads); }

// The head size D of qkv (B, T, (H + 2G)·D), after checking the shapes fit.
int64_t head_size(const Tensor& qkv, int n_heads, int n_kv_heads) {
  TRIDENT_CHECK(qkv.dim() == 3 && n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0, "attention of a ",
                qkv.dim(), "-dim qkv with ", n_heads, " query heads and ", n_kv_heads, " key/value heads");
  const int64_t heads = n_heads + 2 * int64_t(n_kv_heads);
  TRIDENT_CHECK(qkv.size(2) % heads == 0, "attention: rows of ", qkv.size(2), " for ", n_heads, " + 2·", n_kv_heads,
                " heads");
  return qkv.size(2) / heads;
}

}  // namespace

Shape CudaBackend::attention_saved_shape(int64_t B, int64_t n_heads, int64_t n_kv_heads, int64_t T, int64_t head_dim,
                                         DType dtype) const {
  if (flash_attention_applies(dtype, head_dim, n_heads, n_kv_heads)) return {B, n_heads, T};  // log-sum-exp per row
  return {B, n_heads, T, T};                                                                  // the probabilities
}

void CudaBackend::attention_forward(const Tensor& qkv, int n_heads, int n_kv_heads, Tensor& out, Tensor& probs) {
  const int64_t D = head_size(qkv, n_heads, n_kv_heads);
  const int64_t B = qkv.size(0), T = qkv.size(1), W = qkv.size(2), H = n_heads, G = n_kv_heads;
  if (flash_attention_applies(qkv.dtype(), D, H, G)) {
    const OpScope prof(*this, "attention_forward (fused)");
    check_same_dtype("attention_forward", {&qkv, &out});
    TRIDENT_CHECK(out.numel() == B * T * H * D && probs.numel() == B * H * T, "attention shapes");
    flash_attention_forward(qkv, n_heads, out, probs, stream_);
    return;
  }
  const OpScope prof(*this, "attention_forward");
  TRIDENT_CHECK(out.numel() == B * T * H * D && probs.numel() == B * H * T * T, "attention shapes");
  TRIDENT_CHECK(probs.dtype() == DType::f32, "attention probabilities are f32");
  check_same_dtype("attention_forward", {&qkv, &out});
  const DType dt = qkv.dtype();
  const int64_t n = B * H * T * D;
  // K and V with one copy per query head: (B·H, T, D) each, whatever G.
  Tensor q = scratch(kQ, {B * H, T, D}, dt), k = scratch(kK, {B * H, T, D}, dt), v = scratch(kV, {B * H, T, D}, dt);
  Tensor p = probs.view({B * H, T, T});
  Tensor p_low = dt == DType::f32 ? p : scratch(kProbsLow, {B * H, T, T}, dt);
  Tensor y = scratch(kY, {B * H, T, D}, dt);
  dispatch_float(dt, "attention_forward", [&]<typename E>() {
    split_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(qkv), B, T, H, H, D, W, 0, cuda::out<E>(q));
    split_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(qkv), B, T, H, G, D, W, H * D,
                                                                 cuda::out<E>(k));
    split_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(qkv), B, T, H, G, D, W, (H + G) * D,
                                                                 cuda::out<E>(v));
    TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
    gemm(q, false, k, true, p, 1.f / std::sqrt(float(D)), 0.f);
    causal_softmax_kernel<E><<<warp_rows_grid(B * H * T), kThreads, 0, stream_>>>(
        f32_out(p), dt == DType::f32 ? nullptr : cuda::out<E>(p_low), B * H * T, T);
    TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
    gemm(p_low, false, v, false, y, 1.f, 0.f);
    merge_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(y), B, T, H, D, H * D, 0, cuda::out<E>(out));
    TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  });
}

void CudaBackend::attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& out, const Tensor& probs,
                                     int n_heads, int n_kv_heads, Tensor& dqkv) {
  const int64_t D = head_size(qkv, n_heads, n_kv_heads);
  const int64_t B = qkv.size(0), T = qkv.size(1), W = qkv.size(2), H = n_heads, G = n_kv_heads;
  if (flash_attention_applies(qkv.dtype(), D, H, G)) {
    const OpScope prof(*this, "attention_backward (fused)");
    check_same_dtype("attention_backward", {&qkv, &dout, &out, &dqkv});
    TRIDENT_CHECK(dout.numel() == B * T * H * D && out.numel() == B * T * H * D && dqkv.numel() == qkv.numel() &&
                      probs.numel() == B * H * T, "attention backward shapes");
    Tensor dq_term = scratch(kDProbs, {B * H * T});
    flash_attention_backward(dout, qkv, out, probs, dq_term, n_heads, dqkv, stream_);
    return;
  }
  const OpScope prof(*this, "attention_backward");
  TRIDENT_CHECK(dout.numel() == B * T * H * D && dqkv.numel() == qkv.numel() && probs.numel() == B * H * T * T,
                "attention backward shapes");
  TRIDENT_CHECK(probs.dtype() == DType::f32, "attention probabilities are f32");
  check_same_dtype("attention_backward", {&qkv, &dout, &dqkv});
  const DType dt = qkv.dtype();
  const bool low = dt != DType::f32, grouped = G != H;
  const int64_t n = B * H * T * D, n_kv = B * G * T * D;
  Tensor q = scratch(kQ, {B * H, T, D}, dt), k = scratch(kK, {B * H, T, D}, dt), v = scratch(kV, {B * H, T, D}, dt);
  Tensor dy = scratch(kY, {B * H, T, D}, dt);
  const Tensor p = probs.view({B * H, T, T});
  Tensor p_low = low ? scratch(kProbsLow, {B * H, T, T}, dt) : p;
  Tensor dp = scratch(kDProbs, {B * H, T, T});
  Tensor ds = low ? scratch(kDScoresLow, {B * H, T, T}, dt) : dp;
  // dK and dV per query head; in f32 when a group's heads are then summed.
  const DType dkv_type = grouped ? DType::f32 : dt;
  Tensor dq = scratch(kDQ, {B * H, T, D}, dt);
  Tensor dk = scratch(kDK, {B * H, T, D}, dkv_type), dv = scratch(kDV, {B * H, T, D}, dkv_type);
  dispatch_float(dt, "attention_backward", [&]<typename E>() {
    split_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(qkv), B, T, H, H, D, W, 0, cuda::out<E>(q));
    split_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(qkv), B, T, H, G, D, W, H * D,
                                                                 cuda::out<E>(k));
    split_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(qkv), B, T, H, G, D, W, (H + G) * D,
                                                                 cuda::out<E>(v));
    split_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(dout), B, T, H, H, D, H * D, 0,
                                                                 cuda::out<E>(dy));
    TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
    if (low) convert_on_device(p.raw(), DType::f32, p_low.raw(), dt, p.numel(), stream_);
    gemm(p_low, true, dy, false, dv, 1.f, 0.f);  // dV = Pᵀ dY
    gemm(dy, false, v, true, dp, 1.f, 0.f);      // dP = dY Vᵀ (f32)
    causal_softmax_backward_kernel<E><<<warp_rows_grid(B * H * T), kThreads, 0, stream_>>>(
        f32_in(p), f32_in(dp), cuda::out<E>(ds), B * H * T, T, 1.f / std::sqrt(float(D)));
    TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
    gemm(ds, false, k, false, dq, 1.f, 0.f);  // dQ = dS K
    gemm(ds, true, q, false, dk, 1.f, 0.f);   // dK = dSᵀ Q
    merge_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(dq), B, T, H, D, W, 0, cuda::out<E>(dqkv));
    if (grouped) {
      merge_groups_kernel<E><<<grid_for(n_kv), kThreads, 0, stream_>>>(f32_in(dk), B, T, H, G, D, W, H * D,
                                                                             cuda::out<E>(dqkv));
      merge_groups_kernel<E><<<grid_for(n_kv), kThreads, 0, stream_>>>(f32_in(dv), B, T, H, G, D, W,
                                                                             (H + G) * D, cuda::out<E>(dqkv));
    } else {
      merge_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(dk), B, T, H, D, W, H * D,
                                                                   cuda::out<E>(dqkv));
      merge_heads_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(in<E>(dv), B, T, H, D, W, (H + G) * D,
                                                                   cuda::out<E>(dqkv));
    }
    TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  });
}

}  // namespace trident::backend::cuda
