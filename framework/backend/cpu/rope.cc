// Rotary position embedding (HF Llama's rotate-half convention), in place on
// the Q and K columns of qkv (B, T, (H + 2G)·D). Pair i < D/2 of a head
// holds (x_i, x_{i+D/2}) and turns by the angle t·θ_i, θ_i = base^(−2i/D):
//   forward   x_i' = x_i·cos − x_{i+D/2}·sin,  x_{i+D/2}' = x_{i+D/2}·cos + x_i·sin
//   backward  the transpose, a turn by −t·θ_i.
// V's columns are not touched.
#include "framework/backend/cpu/cpu_backend.h"

#include <algorithm>

#include "framework/backend/cpu/element.h"
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {
namespace {

// Turns every Q and K head of qkv by its position's angles; `sign` = +1
// forward, −1 for the inverse (backward).
template <typename T>
void rotate_heads(T* qkv, int64_t B, int64_t Tn, int64_t heads, int64_t width, int64_t D, const float* cos_t,
                  const float* sin_t, float sign) {
  const int64_t half = D / 2;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tn; ++t) {
      const float* c = cos_t + t * half;
      const float* s = sin_t + t * half;
      T* row = qkv + (b * Tn + t) * width;
      for (int64_t h = 0; h < heads; ++h) {  // Q heads, then K heads: contiguous
        T* x = row + h * D;
#pragma omp simd
        for (int64_t i = 0; i < half; ++i) {
          const float x1 = to_f32(x[i]), x2 = to_f32(x[i + half]), si = sign * s[i];
          x[i] = from_f32<T>(x1 * c[i] - x2 * si);
          x[i + half] = from_f32<T>(x2 * c[i] + x1 * si);
        }
      }
    }
}

}  // namespace

const CpuBackend::RopeTable& CpuBackend::rope_table(int64_t T, int64_t D, float base) {
  RopeTable& tab = rope_table_;
  const bool same = tab.D == D && tab.base == base;
  if (same && tab.T >= T) return tab;  // a longer table's first rows serve
  if (same) T = std::max(T, 2 * tab.T);  // growing by a token at a time (sampling): rebuild rarely
  tab.cos.resize(size_t(T * (D / 2)));
  tab.sin.resize(size_t(T * (D / 2)));
  rope_angles(T, D, base, tab.cos.data(), tab.sin.data());
  tab.T = T;
  tab.D = D;
  tab.base = base;
  return tab;
}

void CpuBackend::rope_apply(Tensor& qkv, int n_heads, int n_kv_heads, float base, float sign, const char* op) {
  const int64_t H = n_heads, G = n_kv_heads;
  TRIDENT_CHECK(qkv.dim() == 3 && H >= 1 && G >= 1 && qkv.size(2) % (H + 2 * G) == 0, op, " shapes: qkv ",
                shape_str(qkv.shape()), " heads ", n_heads, " kv heads ", n_kv_heads);
  const int64_t B = qkv.size(0), T = qkv.size(1), width = qkv.size(2), D = width / (H + 2 * G);
  TRIDENT_CHECK(D % 2 == 0, op, ": the head dim ", D, " is odd; rotary pairs need an even one");
  const RopeTable& tab = rope_table(T, D, base);
  cpu::dispatch_float(qkv.dtype(), op, [&]<typename E>() {
    rotate_heads(qkv.data<E>(), B, T, H + G, width, D, tab.cos.data(), tab.sin.data(), sign);
  });
}

void CpuBackend::rope_forward(Tensor& qkv, int n_heads, int n_kv_heads, float base) {
  rope_apply(qkv, n_heads, n_kv_heads, base, 1.f, "rope_forward");
}

void CpuBackend::rope_backward(Tensor& dqkv, int n_heads, int n_kv_heads, float base) {
  rope_apply(dqkv, n_heads, n_kv_heads, base, -1.f, "rope_backward");
}

}  // namespace trident::backend
