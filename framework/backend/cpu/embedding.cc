// Token embedding of a vocabulary shard, forward and backward.
#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>

#include <cstring>

namespace trident::backend {

void CpuBackend::embedding_forward(const Tensor& tokens, const Tensor& wte, int64_t vocab_start, Tensor& out) {
  const int64_t BT = tokens.numel(), C = wte.size(1), V = wte.size(0);
  TRIDENT_CHECK(out.numel() == BT * C, "embedding shapes");
  const int32_t* tok = tokens.data<int32_t>();
  const float* te = wte.data<float>();
  float* o = out.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t bt = 0; bt < BT; ++bt) {
    const int64_t id = int64_t(tok[bt]) - vocab_start;
    float* o_row = o + bt * C;
    if (id >= 0 && id < V) std::memcpy(o_row, te + id * C, size_t(C) * sizeof(float));
    else std::memset(o_row, 0, size_t(C) * sizeof(float));
  }
}

void CpuBackend::embedding_backward(const Tensor& tokens, const Tensor& dout, int64_t vocab_start, Tensor& dwte) {
  const int64_t BT = tokens.numel(), C = dwte.size(1), V = dwte.size(0);
  const int32_t* tok = tokens.data<int32_t>();
  const float* d = dout.data<float>();
  float* dte = dwte.data<float>();
  // Each thread owns a range of channels, so scattered token rows never race,
  // and every element is summed in row order (deterministic).
#pragma omp parallel
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t c0 = C * id / nt, c1 = C * (id + 1) / nt;
    for (int64_t bt = 0; bt < BT; ++bt) {
      const int64_t v = int64_t(tok[bt]) - vocab_start;
      if (v < 0 || v >= V) continue;
      float* te_row = dte + v * C;
      const float* d_row = d + bt * C;
      for (int64_t c = c0; c < c1; ++c) te_row[c] += d_row[c];
    }
  }
}

}  // namespace trident::backend
