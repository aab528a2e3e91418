// Softmax cross-entropy over rows of logits, computed in place: forward
// turns logits into probabilities (max-subtracted, so no overflow) and
// backward turns those into the logits' gradient. The output projection
// GEMM before it and this share one (N, V) buffer: the logits are never
// copied.
#include "framework/backend/cpu/cpu_backend.h"

#include <cmath>

#include "framework/backend/cpu/vector_math.h"

namespace trident::backend {

void CpuBackend::cross_entropy_forward(Tensor& logits, const Tensor& targets, Tensor& losses) {
  const int64_t V = logits.size(-1), N = logits.numel() / V;
  TRIDENT_CHECK(targets.numel() == N && losses.numel() == N, "cross-entropy shapes");
  float* lp = logits.data<float>();
  const int32_t* tp = targets.data<int32_t>();
  float* outp = losses.data<float>();
  for (int64_t n = 0; n < N; ++n)
    TRIDENT_CHECK(tp[n] >= 0 && tp[n] < V, "target ", tp[n], " outside the vocabulary of ", V);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    float* row = lp + n * V;
    float mx = row[0];
    for (int64_t j = 1; j < V; ++j) mx = row[j] > mx ? row[j] : mx;
    const float target_logit = row[tp[n]];
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < V; ++j) {
      row[j] = cpu::exp_poly(row[j] - mx);
      sum += row[j];
    }
    const float inv = 1.f / sum;
    for (int64_t j = 0; j < V; ++j) row[j] *= inv;
    outp[n] = std::log(sum) - (target_logit - mx);
  }
}

void CpuBackend::cross_entropy_backward(Tensor& probs, const Tensor& targets, float scale) {
  const int64_t V = probs.size(-1), N = probs.numel() / V;
  float* pp = probs.data<float>();
  const int32_t* tp = targets.data<int32_t>();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    float* row = pp + n * V;
    row[tp[n]] -= 1.f;
    for (int64_t j = 0; j < V; ++j) row[j] *= scale;
  }
}

}  // namespace trident::backend
