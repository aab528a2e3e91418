// Token embedding of a vocabulary shard, forward and backward. The table
// and output are in the compute dtype; the table's gradient is f32.
#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>

#include <algorithm>

#include "framework/backend/cpu/element.h"
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {

void CpuBackend::embedding_forward(const Tensor& tokens, const Tensor& wte, int64_t vocab_start, Tensor& out) {
  const int64_t BT = tokens.numel(), C = wte.size(1), V = wte.size(0);
  TRIDENT_CHECK(out.numel() == BT * C, "embedding shapes");
  cpu::check_same_dtype("embedding_forward", {&wte, &out});
  const int32_t* tok = tokens.data<int32_t>();
  cpu::dispatch_float(wte.dtype(), "embedding_forward", [&]<typename T>() {
    const T* te = wte.data<T>();
    T* o = out.data<T>();
#pragma omp parallel for schedule(static)
    for (int64_t bt = 0; bt < BT; ++bt) {
      const int64_t id = int64_t(tok[bt]) - vocab_start;
      T* o_row = o + bt * C;
      if (id >= 0 && id < V) std::copy(te + id * C, te + (id + 1) * C, o_row);
      else std::fill(o_row, o_row + C, from_f32<T>(0.f));
    }
  });
}

void CpuBackend::embedding_backward(const Tensor& tokens, const Tensor& dout, int64_t vocab_start, Tensor& dwte) {
  const int64_t BT = tokens.numel(), C = dwte.size(1), V = dwte.size(0);
  const int32_t* tok = tokens.data<int32_t>();
  float* dte = dwte.data<float>();
  cpu::dispatch_float(dout.dtype(), "embedding_backward", [&]<typename T>() {
    const T* d = dout.data<T>();
    // Each thread owns a range of channels, so scattered token rows never
    // race, and every element is summed in row order (deterministic).
#pragma omp parallel
    {
      const int nt = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t c0 = C * id / nt, c1 = C * (id + 1) / nt;
      for (int64_t bt = 0; bt < BT; ++bt) {
        const int64_t v = int64_t(tok[bt]) - vocab_start;
        if (v < 0 || v >= V) continue;
        float* te_row = dte + v * C;
        const T* d_row = d + bt * C;
        for (int64_t c = c0; c < c1; ++c) te_row[c] += to_f32(d_row[c]);
      }
    }
  });
}

}  // namespace trident::backend
