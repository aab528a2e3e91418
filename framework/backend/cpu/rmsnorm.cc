// RMS norm over the last dimension, forward and backward: layer norm
// without the mean and the bias (Llama's normalization). x, w, out, dout and
// dx are in the compute dtype; rstd and the weight gradient are f32.
#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>

#include <cmath>
#include <vector>

#include "framework/backend/cpu/element.h"
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {

void CpuBackend::rmsnorm_forward(const Tensor& x, const Tensor& w, float eps, Tensor& out, Tensor& rstd) {
  const int64_t C = x.size(-1), N = x.numel() / C;
  TRIDENT_CHECK(w.numel() == C && out.numel() == x.numel() && rstd.numel() == N, "rmsnorm shapes");
  cpu::check_same_dtype("rmsnorm_forward", {&x, &w, &out});
  float* rp = rstd.data<float>();
  cpu::dispatch_float(x.dtype(), "rmsnorm_forward", [&]<typename T>() {
    const T* xp = x.data<T>();
    const T* wp = w.data<T>();
    T* op = out.data<T>();
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const T* row = xp + n * C;
      float sum_sq = 0.f;  // vectorised in a fixed order: the same bits every run
#pragma omp simd reduction(+ : sum_sq)
      for (int64_t c = 0; c < C; ++c) sum_sq += to_f32(row[c]) * to_f32(row[c]);
      const float rs = 1.f / std::sqrt(sum_sq / float(C) + eps);
      T* orow = op + n * C;
      for (int64_t c = 0; c < C; ++c) orow[c] = from_f32<T>(to_f32(row[c]) * rs * to_f32(wp[c]));
      rp[n] = rs;
    }
  });
}

void CpuBackend::rmsnorm_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Tensor& rstd,
                                  Tensor& dx, Tensor& dw) {
  const int64_t C = x.size(-1), N = x.numel() / C;
  TRIDENT_CHECK(w.numel() == C && dw.numel() == C && dout.numel() == x.numel() && dx.numel() == x.numel() &&
                    rstd.numel() == N, "rmsnorm backward shapes");
  cpu::check_same_dtype("rmsnorm_backward", {&x, &dout, &w, &dx});
  const float* rp = rstd.data<float>();
  float* dwp = dw.data<float>();
  // Per-thread partial sums added in thread order: deterministic (see layernorm.cc).
  const int nt = omp_get_max_threads();
  std::vector<float> partial(size_t(nt) * size_t(C), 0.f);
  cpu::dispatch_float(x.dtype(), "rmsnorm_backward", [&]<typename T>() {
    const T* dp = dout.data<T>();
    const T* xp = x.data<T>();
    const T* wp = w.data<T>();
    T* dxp = dx.data<T>();
#pragma omp parallel
    {
      float* dw_local = partial.data() + size_t(omp_get_thread_num()) * size_t(C);
#pragma omp for schedule(static)
      for (int64_t n = 0; n < N; ++n) {
        const T* drow = dp + n * C;
        const T* xrow = xp + n * C;
        const float rs = rp[n];
        // dx = rstd · (dŷ − x̂ · mean(dŷ · x̂)), x̂ = x · rstd, dŷ = dout · w
        float sum_dy_xhat = 0.f;
#pragma omp simd reduction(+ : sum_dy_xhat)
        for (int64_t c = 0; c < C; ++c) {
          const float xhat = to_f32(xrow[c]) * rs, d = to_f32(drow[c]);
          sum_dy_xhat += d * to_f32(wp[c]) * xhat;
          dw_local[c] += d * xhat;
        }
        const float mean_dy_xhat = sum_dy_xhat / float(C);
        T* dxrow = dxp + n * C;
        for (int64_t c = 0; c < C; ++c) {
          const float xhat = to_f32(xrow[c]) * rs;
          dxrow[c] = from_f32<T>(rs * (to_f32(drow[c]) * to_f32(wp[c]) - xhat * mean_dy_xhat));
        }
      }
    }
  });
  for (int t = 0; t < nt; ++t)
    for (int64_t c = 0; c < C; ++c) dwp[c] += partial[size_t(t) * size_t(C) + size_t(c)];
}

}  // namespace trident::backend
