// Causal multi-head self-attention: the "materialised scores" algorithm
// (scores = QKᵀ/√d, causal softmax, P·V) with batched GEMMs, the same
// arithmetic as a PyTorch reference implementation. The probabilities
// (B, heads, T, T) are kept for backward.
#include "framework/backend/cpu/cpu_backend.h"

#include <cmath>

#include "framework/backend/cpu/element.h"
#include "framework/backend/cpu/vector_math.h"
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {
namespace {

// Columns [col0 + h·D, col0 + (h+1)·D) of rows of width `width` in (B, T, width)
// -> (B·H, T, D) f32, for every head h.
template <typename T>
void split_heads(const T* src_all, int64_t B, int64_t Tn, int64_t H, int64_t D, int64_t width, int64_t col0,
                 float* dst) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < Tn; ++t) {
        const T* src = src_all + (b * Tn + t) * width + col0 + h * D;
        float* out = dst + ((b * H + h) * Tn + t) * D;
        for (int64_t d = 0; d < D; ++d) out[d] = to_f32(src[d]);
      }
}

// q, k, v (B·H, T, D) f32 from qkv (B, T, 3C) in the compute dtype.
void split_qkv(const Tensor& qkv, int64_t B, int64_t T, int64_t H, int64_t D, Tensor& q, Tensor& k, Tensor& v) {
  cpu::dispatch_float(qkv.dtype(), "attention", [&]<typename E>() {
    for (int which = 0; which < 3; ++which)
      split_heads(qkv.data<E>(), B, T, H, D, 3 * H * D, which * H * D,
                  (which == 0 ? q : which == 1 ? k : v).data<float>());
  });
}

// (B·H, T, D) f32 -> columns [col0, col0 + C) of rows of width `width` in
// (B, T, width), in dst's dtype.
void merge_heads(const float* src, int64_t B, int64_t T, int64_t H, int64_t D, int64_t width, int64_t col0,
                 Tensor& dst_t) {
  cpu::dispatch_float(dst_t.dtype(), "attention", [&]<typename E>() {
    E* dst = dst_t.data<E>();
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < H; ++h) {
          const float* in = src + ((b * H + h) * T + t) * D;
          E* out = dst + (b * T + t) * width + col0 + h * D;
          for (int64_t d = 0; d < D; ++d) out[d] = from_f32<E>(in[d]);
        }
  });
}

}  // namespace

void CpuBackend::attention_forward(const Tensor& qkv, int n_heads, Tensor& out, Tensor& probs) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, H = n_heads, D = C / H;
  TRIDENT_CHECK(qkv.size(2) == 3 * C && C % H == 0 && out.numel() == B * T * C && probs.numel() == B * H * T * T,
                "attention shapes: qkv ", shape_str(qkv.shape()), " heads ", n_heads);
  Tensor q = scratch(kAttnQ, {B * H, T, D}), k = scratch(kAttnK, {B * H, T, D}), v = scratch(kAttnV, {B * H, T, D});
  split_qkv(qkv, B, T, H, D, q, k, v);

  Tensor p = probs.view({B * H, T, T});
  gemm(q, false, k, true, p, 1.f / std::sqrt(float(D)), 0.f);  // scores (B·H, T, T)
  float* pp = p.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t t = 0; t < T; ++t) {
      float* row = pp + (bh * T + t) * T;
      float mx = row[0];
      for (int64_t j = 1; j <= t; ++j) mx = row[j] > mx ? row[j] : mx;
      float sum = 0.f;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j <= t; ++j) {
        row[j] = cpu::exp_poly(row[j] - mx);
        sum += row[j];
      }
      const float inv = 1.f / sum;
      for (int64_t j = 0; j <= t; ++j) row[j] *= inv;
      for (int64_t j = t + 1; j < T; ++j) row[j] = 0.f;  // causal mask
    }
  Tensor y = scratch(kAttnY, {B * H, T, D});
  gemm(p, false, v, false, y, 1.f, 0.f);
  merge_heads(y.data<float>(), B, T, H, D, C, 0, out);
}

void CpuBackend::attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& /*out*/, const Tensor& probs, int n_heads,
                                    Tensor& dqkv) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, H = n_heads, D = C / H;
  TRIDENT_CHECK(dout.numel() == B * T * C && dqkv.numel() == qkv.numel() && probs.numel() == B * H * T * T,
                "attention backward shapes");
  Tensor q = scratch(kAttnQ, {B * H, T, D}), k = scratch(kAttnK, {B * H, T, D}), v = scratch(kAttnV, {B * H, T, D});
  split_qkv(qkv, B, T, H, D, q, k, v);
  Tensor dy = scratch(kAttnY, {B * H, T, D});  // dout in head layout
  cpu::dispatch_float(dout.dtype(), "attention_backward", [&]<typename E>() {
    split_heads(dout.data<E>(), B, T, H, D, C, 0, dy.data<float>());
  });
  const Tensor p = probs.view({B * H, T, T});
  Tensor dv = scratch(kAttnDV, {B * H, T, D});
  gemm(p, true, dy, false, dv, 1.f, 0.f);  // dV = Pᵀ dY
  Tensor dp = scratch(kAttnDProbs, {B * H, T, T});
  gemm(dy, false, v, true, dp, 1.f, 0.f);  // dP = dY Vᵀ
  // Softmax backward, with the 1/√d of the scores folded in:
  // dS = P ∘ (dP − rowsum(P ∘ dP)) / √d. Masked entries have P = 0.
  const float scale_qk = 1.f / std::sqrt(float(D));
  const float* pp = p.data<float>();
  float* dpp = dp.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t t = 0; t < T; ++t) {
      const float* prow = pp + (bh * T + t) * T;
      float* drow = dpp + (bh * T + t) * T;
      float dot = 0.f;
      for (int64_t j = 0; j <= t; ++j) dot += prow[j] * drow[j];
      for (int64_t j = 0; j <= t; ++j) drow[j] = prow[j] * (drow[j] - dot) * scale_qk;
      for (int64_t j = t + 1; j < T; ++j) drow[j] = 0.f;
    }
  Tensor dq = scratch(kAttnDQ, {B * H, T, D}), dk = scratch(kAttnDK, {B * H, T, D});
  gemm(dp, false, k, false, dq, 1.f, 0.f);  // dQ = dS K
  gemm(dp, true, q, false, dk, 1.f, 0.f);   // dK = dSᵀ Q
  merge_heads(dq.data<float>(), B, T, H, D, 3 * C, 0, dqkv);
  merge_heads(dk.data<float>(), B, T, H, D, 3 * C, C, dqkv);
  merge_heads(dv.data<float>(), B, T, H, D, 3 * C, 2 * C, dqkv);
}

}  // namespace trident::backend
