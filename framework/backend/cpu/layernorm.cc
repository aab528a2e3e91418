// Layer norm over the last dimension, forward and backward. x, w, b, out,
// dout and dx are in the compute dtype; the statistics and the weight and
// bias gradients are f32.
#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>

#include <cmath>
#include <vector>

#include "framework/backend/cpu/element.h"
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {

void CpuBackend::layernorm_forward(const Tensor& x, const Tensor& w, const Tensor& b, float eps, Tensor& out,
                                   Tensor& mean, Tensor& rstd) {
  const int64_t C = x.size(-1), N = x.numel() / C;
  TRIDENT_CHECK(w.numel() == C && b.numel() == C && out.numel() == x.numel() && mean.numel() == N &&
                    rstd.numel() == N, "layernorm shapes");
  cpu::check_same_dtype("layernorm_forward", {&x, &w, &b, &out});
  float* mp = mean.data<float>();
  float* rp = rstd.data<float>();
  cpu::dispatch_float(x.dtype(), "layernorm_forward", [&]<typename T>() {
    const T* xp = x.data<T>();
    const T* wp = w.data<T>();
    const T* bp = b.data<T>();
    T* op = out.data<T>();
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const T* row = xp + n * C;
      // The sums are vectorised (omp simd): a fixed order, so the same bits every run.
      float sum = 0.f;
#pragma omp simd reduction(+ : sum)
      for (int64_t c = 0; c < C; ++c) sum += to_f32(row[c]);
      const float mu = sum / float(C);
      float var = 0.f;  // two passes: no cancellation for rows with a large mean
#pragma omp simd reduction(+ : var)
      for (int64_t c = 0; c < C; ++c) var += (to_f32(row[c]) - mu) * (to_f32(row[c]) - mu);
      const float rs = 1.f / std::sqrt(var / float(C) + eps);
      T* orow = op + n * C;
      for (int64_t c = 0; c < C; ++c) orow[c] = from_f32<T>((to_f32(row[c]) - mu) * rs * to_f32(wp[c]) + to_f32(bp[c]));
      mp[n] = mu;
      rp[n] = rs;
    }
  });
}

void CpuBackend::layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Tensor& mean,
                                    const Tensor& rstd, Tensor& dx, Tensor& dw, Tensor& db) {
  const int64_t C = x.size(-1), N = x.numel() / C;
  cpu::check_same_dtype("layernorm_backward", {&x, &dout, &w, &dx});
  const float* mp = mean.data<float>();
  const float* rp = rstd.data<float>();
  float* dwp = dw.data<float>();
  float* dbp = db.data<float>();
  // Per-thread partial sums, added in thread order afterwards: the same bits
  // on every run (exact resume depends on it), unlike a critical section.
  const int nt = omp_get_max_threads();
  std::vector<float> partial(size_t(nt) * 2 * size_t(C), 0.f);
  cpu::dispatch_float(x.dtype(), "layernorm_backward", [&]<typename T>() {
    const T* dp = dout.data<T>();
    const T* xp = x.data<T>();
    const T* wp = w.data<T>();
    T* dxp = dx.data<T>();
#pragma omp parallel
    {
      float* dw_local = partial.data() + size_t(omp_get_thread_num()) * 2 * size_t(C);
      float* db_local = dw_local + C;
#pragma omp for schedule(static)
      for (int64_t n = 0; n < N; ++n) {
        const T* drow = dp + n * C;
        const T* xrow = xp + n * C;
        const float mu = mp[n], rs = rp[n];
        // dx = rstd · (dŷ − mean(dŷ) − x̂ · mean(dŷ · x̂)), dŷ = dout · w
        float sum_dy = 0.f, sum_dy_xhat = 0.f;
#pragma omp simd reduction(+ : sum_dy, sum_dy_xhat)
        for (int64_t c = 0; c < C; ++c) {
          const float xhat = (to_f32(xrow[c]) - mu) * rs, d = to_f32(drow[c]);
          const float dyhat = d * to_f32(wp[c]);
          sum_dy += dyhat;
          sum_dy_xhat += dyhat * xhat;
          dw_local[c] += d * xhat;
          db_local[c] += d;
        }
        const float mean_dy = sum_dy / float(C), mean_dy_xhat = sum_dy_xhat / float(C);
        T* dxrow = dxp + n * C;
        for (int64_t c = 0; c < C; ++c) {
          const float xhat = (to_f32(xrow[c]) - mu) * rs;
          dxrow[c] = from_f32<T>(rs * (to_f32(drow[c]) * to_f32(wp[c]) - mean_dy - xhat * mean_dy_xhat));
        }
      }
    }
  });
  for (int t = 0; t < nt; ++t)
    for (int64_t c = 0; c < C; ++c) {
      dwp[c] += partial[(size_t(t) * 2) * size_t(C) + size_t(c)];
      dbp[c] += partial[(size_t(t) * 2 + 1) * size_t(C) + size_t(c)];
    }
}

}  // namespace trident::backend
