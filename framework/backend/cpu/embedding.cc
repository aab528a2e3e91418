// Token + position embedding, forward and backward.
#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>

namespace trident::backend {

void CpuBackend::embedding_forward(const Tensor& tokens, const Tensor& wte, const Tensor& wpe, Tensor& out) {
  const int64_t B = tokens.size(0), T = tokens.size(1), C = wte.size(1), V = wte.size(0);
  TRIDENT_CHECK(wpe.size(0) >= T && wpe.size(1) == C && out.numel() == B * T * C, "embedding shapes");
  const int32_t* tok = tokens.data<int32_t>();
  const float* te = wte.data<float>();
  const float* pe = wpe.data<float>();
  float* o = out.data<float>();
  // Checked before the parallel loop: an exception must not leave an OpenMP region.
  for (int64_t bt = 0; bt < B * T; ++bt)
    TRIDENT_CHECK(tok[bt] >= 0 && tok[bt] < V, "token id ", tok[bt], " outside the vocabulary of ", V);
#pragma omp parallel for schedule(static)
  for (int64_t bt = 0; bt < B * T; ++bt) {
    const int32_t id = tok[bt];
    const float* te_row = te + int64_t(id) * C;
    const float* pe_row = pe + (bt % T) * C;
    float* o_row = o + bt * C;
    for (int64_t c = 0; c < C; ++c) o_row[c] = te_row[c] + pe_row[c];
  }
}

void CpuBackend::embedding_backward(const Tensor& tokens, const Tensor& dout, Tensor& dwte, Tensor& dwpe) {
  const int64_t B = tokens.size(0), T = tokens.size(1), C = dwte.size(1);
  const int32_t* tok = tokens.data<int32_t>();
  const float* d = dout.data<float>();
  float* dte = dwte.data<float>();
  float* dpe = dwpe.data<float>();
  // Each thread owns a range of channels, so scattered token rows never race.
#pragma omp parallel
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t c0 = C * id / nt, c1 = C * (id + 1) / nt;
    for (int64_t bt = 0; bt < B * T; ++bt) {
      float* te_row = dte + int64_t(tok[bt]) * C;
      float* pe_row = dpe + (bt % T) * C;
      const float* d_row = d + bt * C;
      for (int64_t c = c0; c < c1; ++c) {
        te_row[c] += d_row[c];
        pe_row[c] += d_row[c];
      }
    }
  }
}

}  // namespace trident::backend
