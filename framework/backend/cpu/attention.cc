// Causal multi-head self-attention: the "materialised scores" algorithm
// (scores = QKᵀ/√d, causal softmax, P·V) with batched GEMMs, the same
// arithmetic as a PyTorch reference implementation. The probabilities
// (B, heads, T, T) are kept for backward.
#include "framework/backend/cpu/cpu_backend.h"

#include <cmath>

#include "framework/backend/cpu/vector_math.h"

namespace trident::backend {
namespace {

enum Slot { kQ, kK, kV, kY, kDProbs, kDQ, kDK, kDV };

// (B, T, 3, H, D) slice `which` of qkv  <->  (B·H, T, D).
void split_heads(const float* qkv, int64_t B, int64_t T, int64_t H, int64_t D, int which, float* dst) {
  const int64_t C = H * D;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        const float* src = qkv + (b * T + t) * 3 * C + which * C + h * D;
        float* out = dst + ((b * H + h) * T + t) * D;
        for (int64_t d = 0; d < D; ++d) out[d] = src[d];
      }
}

// q, k, v (B·H, T, D) from qkv (B, T, 3C).
void split_qkv(const Tensor& qkv, int64_t B, int64_t T, int64_t H, int64_t D, Tensor& q, Tensor& k, Tensor& v) {
  for (int which = 0; which < 3; ++which)
    split_heads(qkv.data<float>(), B, T, H, D, which, (which == 0 ? q : which == 1 ? k : v).data<float>());
}

// (B·H, T, D) -> columns [col0, col0 + C) of rows of width `width` in (B, T, width).
void merge_heads(const float* src, int64_t B, int64_t T, int64_t H, int64_t D, int64_t width, int64_t col0,
                 float* dst) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const float* in = src + ((b * H + h) * T + t) * D;
        float* out = dst + (b * T + t) * width + col0 + h * D;
        for (int64_t d = 0; d < D; ++d) out[d] = in[d];
      }
}

}  // namespace

void CpuBackend::attention_forward(const Tensor& qkv, int n_heads, Tensor& out, Tensor& probs) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, H = n_heads, D = C / H;
  TRIDENT_CHECK(qkv.size(2) == 3 * C && C % H == 0 && out.numel() == B * T * C && probs.numel() == B * H * T * T,
                "attention shapes: qkv ", shape_str(qkv.shape()), " heads ", n_heads);
  Tensor q = scratch(kQ, {B * H, T, D}), k = scratch(kK, {B * H, T, D}), v = scratch(kV, {B * H, T, D});
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
  Tensor y = scratch(kY, {B * H, T, D});
  gemm(p, false, v, false, y, 1.f, 0.f);
  merge_heads(y.data<float>(), B, T, H, D, C, 0, out.data<float>());
}

void CpuBackend::attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& probs, int n_heads,
                                    Tensor& dqkv) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, H = n_heads, D = C / H;
  TRIDENT_CHECK(dout.numel() == B * T * C && dqkv.numel() == qkv.numel() && probs.numel() == B * H * T * T,
                "attention backward shapes");
  Tensor q = scratch(kQ, {B * H, T, D}), k = scratch(kK, {B * H, T, D}), v = scratch(kV, {B * H, T, D});
  split_qkv(qkv, B, T, H, D, q, k, v);
  // dY in head layout: dout viewed as (B, T, 1, H, D) has the layout split_heads expects with C = H·D, 1 slot.
  Tensor dy = scratch(kY, {B * H, T, D});
  {
    const float* src = dout.data<float>();
    float* dst = dy.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t t = 0; t < T; ++t)
          for (int64_t d = 0; d < D; ++d) dst[((b * H + h) * T + t) * D + d] = src[(b * T + t) * C + h * D + d];
  }
  const Tensor p = probs.view({B * H, T, T});
  Tensor dv = scratch(kDV, {B * H, T, D});
  gemm(p, true, dy, false, dv, 1.f, 0.f);  // dV = Pᵀ dY
  Tensor dp = scratch(kDProbs, {B * H, T, T});
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
  Tensor dq = scratch(kDQ, {B * H, T, D}), dk = scratch(kDK, {B * H, T, D});
  gemm(dp, false, k, false, dq, 1.f, 0.f);  // dQ = dS K
  gemm(dp, true, q, false, dk, 1.f, 0.f);   // dK = dSᵀ Q
  float* dst = dqkv.data<float>();
  merge_heads(dq.data<float>(), B, T, H, D, 3 * C, 0, dst);
  merge_heads(dk.data<float>(), B, T, H, D, 3 * C, C, dst);
  merge_heads(dv.data<float>(), B, T, H, D, 3 * C, 2 * C, dst);
}

}  // namespace trident::backend
