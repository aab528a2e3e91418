// Causal multi-head self-attention with grouped-query attention: the
// "materialised scores" algorithm (scores = QKᵀ/√d, causal softmax, P·V)
// with batched GEMMs, the same arithmetic as a PyTorch reference
// implementation. The probabilities (B, heads, T, T) are kept for backward.
//
// Grouped-query attention (G key/value heads for H query heads; query head
// h uses key/value head h mod G) copies each key/value head into every query
// head it serves, so the GEMMs are those of H-head attention; backward sums
// the copies' gradients back into their key/value head. With G = H every
// copy is the head itself and the arithmetic is plain multi-head
// attention's, bit for bit.
#include "framework/backend/cpu/cpu_backend.h"

#include <cmath>

#include "framework/backend/cpu/element.h"
#include "framework/backend/cpu/vector_math.h"
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {
namespace {

// (B, T, width) rows in the compute dtype -> (B·H, T, D) f32: head h is the
// D columns from col0 + (h mod G)·D. G = H splits the heads; G < H repeats
// each of G key/value heads for the query heads that use it.
template <typename E>
void split_heads(const E* src_all, int64_t B, int64_t Tn, int64_t H, int64_t G, int64_t D, int64_t width,
                 int64_t col0, float* dst) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < Tn; ++t) {
        const E* src = src_all + (b * Tn + t) * width + col0 + (h % G) * D;
        float* out = dst + ((b * H + h) * Tn + t) * D;
        for (int64_t d = 0; d < D; ++d) out[d] = to_f32(src[d]);
      }
}

// q (B·H, T, D), and k, v (B·H, T, D) with key/value head h mod G in slot h,
// all f32, from qkv (B, T, (H + 2G)·D) in the compute dtype.
void split_qkv(const Tensor& qkv, int64_t B, int64_t T, int64_t H, int64_t G, int64_t D, Tensor& q, Tensor& k,
               Tensor& v) {
  const int64_t width = (H + 2 * G) * D;
  cpu::dispatch_float(qkv.dtype(), "attention", [&]<typename E>() {
    split_heads(qkv.data<E>(), B, T, H, H, D, width, 0, q.data<float>());
    split_heads(qkv.data<E>(), B, T, H, G, D, width, H * D, k.data<float>());
    split_heads(qkv.data<E>(), B, T, H, G, D, width, (H + G) * D, v.data<float>());
  });
}

// (B·H, T, D) f32 -> G heads of D columns from col0 in the (B, T, width) rows
// of dst, in dst's dtype: head g is the sum of slots g, g + G, g + 2G, ...
// < H, added in that order in f32 and rounded once. G = H merges the heads
// (one term each: a plain copy).
void merge_heads(const float* src, int64_t B, int64_t T, int64_t H, int64_t G, int64_t D, int64_t width,
                 int64_t col0, Tensor& dst_t) {
  cpu::dispatch_float(dst_t.dtype(), "attention", [&]<typename E>() {
    E* dst = dst_t.data<E>();
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t g = 0; g < G; ++g) {
          E* out = dst + (b * T + t) * width + col0 + g * D;
          for (int64_t d = 0; d < D; ++d) {
            float sum = src[((b * H + g) * T + t) * D + d];
            for (int64_t h = g + G; h < H; h += G) sum += src[((b * H + h) * T + t) * D + d];
            out[d] = from_f32<E>(sum);
          }
        }
  });
}

}  // namespace

void CpuBackend::attention_forward(const Tensor& qkv, int n_heads, int n_kv_heads, Tensor& out, Tensor& probs) {
  const int64_t H = n_heads, G = n_kv_heads;
  TRIDENT_CHECK(qkv.dim() == 3 && G >= 1 && H % G == 0 && qkv.size(2) % (H + 2 * G) == 0, "attention shapes: qkv ",
                shape_str(qkv.shape()), " heads ", n_heads, " kv heads ", n_kv_heads);
  const int64_t B = qkv.size(0), T = qkv.size(1), D = qkv.size(2) / (H + 2 * G), C = H * D;
  TRIDENT_CHECK(out.numel() == B * T * C && probs.numel() == B * H * T * T, "attention shapes: qkv ",
                shape_str(qkv.shape()), " out ", shape_str(out.shape()), " probs ", shape_str(probs.shape()));
  Tensor q = scratch(kAttnQ, {B * H, T, D}), k = scratch(kAttnK, {B * H, T, D}), v = scratch(kAttnV, {B * H, T, D});
  split_qkv(qkv, B, T, H, G, D, q, k, v);

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
  merge_heads(y.data<float>(), B, T, H, H, D, C, 0, out);
}

void CpuBackend::attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& /*out*/, const Tensor& probs,
                                    int n_heads, int n_kv_heads, Tensor& dqkv) {
  const int64_t H = n_heads, G = n_kv_heads;
  TRIDENT_CHECK(qkv.dim() == 3 && G >= 1 && H % G == 0 && qkv.size(2) % (H + 2 * G) == 0,
                "attention backward shapes: qkv ", shape_str(qkv.shape()), " heads ", n_heads, " kv heads ",
                n_kv_heads);
  const int64_t B = qkv.size(0), T = qkv.size(1), width = qkv.size(2), D = width / (H + 2 * G), C = H * D;
  TRIDENT_CHECK(dout.numel() == B * T * C && dqkv.numel() == qkv.numel() && probs.numel() == B * H * T * T,
                "attention backward shapes");
  Tensor q = scratch(kAttnQ, {B * H, T, D}), k = scratch(kAttnK, {B * H, T, D}), v = scratch(kAttnV, {B * H, T, D});
  split_qkv(qkv, B, T, H, G, D, q, k, v);
  Tensor dy = scratch(kAttnY, {B * H, T, D});  // dout in head layout
  cpu::dispatch_float(dout.dtype(), "attention_backward", [&]<typename E>() {
    split_heads(dout.data<E>(), B, T, H, H, D, C, 0, dy.data<float>());
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
  gemm(dp, true, q, false, dk, 1.f, 0.f);   // dK = dSᵀ Q, per query head
  merge_heads(dq.data<float>(), B, T, H, H, D, width, 0, dqkv);
  merge_heads(dk.data<float>(), B, T, H, G, D, width, C, dqkv);  // summed over each group
  merge_heads(dv.data<float>(), B, T, H, G, D, width, C + G * D, dqkv);
}

}  // namespace trident::backend
