// Softmax cross-entropy over rows of (a vocabulary shard of) logits, in the
// pieces backend.h describes, computed in place: the logits become
// exp(logit − max), then probabilities, then their gradient. The output
// projection GEMM before it and this share one (N, V) buffer.
#include "framework/backend/cpu/cpu_backend.h"

#include <cmath>
#include <limits>

#include "framework/backend/cpu/vector_math.h"
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {

void CpuBackend::cross_entropy_row_max(const Tensor& logits, int64_t vocab_start, int64_t vocab_size,
                                       Tensor& row_max) {
  const int64_t V = logits.size(-1), N = logits.numel() / V;
  TRIDENT_CHECK(row_max.numel() == N, "cross-entropy row_max shape");
  const int64_t real = std::max<int64_t>(0, std::min(V, vocab_size - vocab_start));  // columns before the padding
  const float* lp = logits.data<float>();
  float* mp = row_max.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const float* row = lp + n * V;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < real; ++j) mx = row[j] > mx ? row[j] : mx;
    mp[n] = mx;
  }
}

void CpuBackend::cross_entropy_exp_sums(Tensor& logits, const Tensor& row_max, const Tensor& targets,
                                        int64_t vocab_start, int64_t vocab_size, Tensor& stats) {
  const int64_t V = logits.size(-1), N = logits.numel() / V;
  TRIDENT_CHECK(targets.numel() == N && row_max.numel() == N && stats.numel() == 2 * N, "cross-entropy shapes");
  const int64_t real = std::max<int64_t>(0, std::min(V, vocab_size - vocab_start));
  float* lp = logits.data<float>();
  const float* mp = row_max.data<float>();
  const int32_t* tp = targets.data<int32_t>();
  float* sums = stats.data<float>();
  float* target_logit = sums + N;
  // Checked before the parallel loop: an exception must not leave an OpenMP region.
  for (int64_t n = 0; n < N; ++n)
    TRIDENT_CHECK(tp[n] >= 0 && tp[n] < vocab_size, "target ", tp[n], " outside the vocabulary of ", vocab_size);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    float* row = lp + n * V;
    const float mx = mp[n];
    const int64_t t = int64_t(tp[n]) - vocab_start;
    target_logit[n] = t >= 0 && t < real ? row[t] - mx : 0.f;
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < real; ++j) {
      row[j] = cpu::exp_poly(row[j] - mx);
      sum += row[j];
    }
    for (int64_t j = real; j < V; ++j) row[j] = 0.f;
    sums[n] = sum;
  }
}

void CpuBackend::cross_entropy_finish(Tensor& logits, const Tensor& stats, Tensor& losses) {
  const int64_t V = logits.size(-1), N = logits.numel() / V;
  TRIDENT_CHECK(stats.numel() == 2 * N && losses.numel() == N, "cross-entropy shapes");
  float* lp = logits.data<float>();
  const float* sums = stats.data<float>();
  const float* target_logit = sums + N;
  float* outp = losses.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const float inv = 1.f / sums[n];
    float* row = lp + n * V;
    for (int64_t j = 0; j < V; ++j) row[j] *= inv;
    outp[n] = std::log(sums[n]) - target_logit[n];
  }
}

void CpuBackend::cross_entropy_backward(Tensor& probs, const Tensor& targets, int64_t vocab_start, float scale) {
  const int64_t V = probs.size(-1), N = probs.numel() / V;
  float* pp = probs.data<float>();
  const int32_t* tp = targets.data<int32_t>();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    float* row = pp + n * V;
    const int64_t t = int64_t(tp[n]) - vocab_start;
    if (t >= 0 && t < V) row[t] -= 1.f;
    for (int64_t j = 0; j < V; ++j) row[j] *= scale;
  }
}

}  // namespace trident::backend
