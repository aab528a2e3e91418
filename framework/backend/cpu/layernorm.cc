// Layer norm over the last dimension, forward and backward (statistics in f32).
#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>

#include <cmath>
#include <vector>

namespace trident::backend {

void CpuBackend::layernorm_forward(const Tensor& x, const Tensor& w, const Tensor& b, float eps, Tensor& out,
                                   Tensor& mean, Tensor& rstd) {
  const int64_t C = x.size(-1), N = x.numel() / C;
  TRIDENT_CHECK(w.numel() == C && b.numel() == C && out.numel() == x.numel() && mean.numel() == N &&
                    rstd.numel() == N, "layernorm shapes");
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  const float* bp = b.data<float>();
  float* op = out.data<float>();
  float* mp = mean.data<float>();
  float* rp = rstd.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const float* row = xp + n * C;
    float sum = 0.f;
    for (int64_t c = 0; c < C; ++c) sum += row[c];
    const float mu = sum / float(C);
    float var = 0.f;  // two passes: no cancellation for rows with a large mean
    for (int64_t c = 0; c < C; ++c) var += (row[c] - mu) * (row[c] - mu);
    const float rs = 1.f / std::sqrt(var / float(C) + eps);
    float* orow = op + n * C;
    for (int64_t c = 0; c < C; ++c) orow[c] = (row[c] - mu) * rs * wp[c] + bp[c];
    mp[n] = mu;
    rp[n] = rs;
  }
}

void CpuBackend::layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Tensor& mean,
                                    const Tensor& rstd, Tensor& dx, Tensor& dw, Tensor& db) {
  const int64_t C = x.size(-1), N = x.numel() / C;
  const float* dp = dout.data<float>();
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  const float* mp = mean.data<float>();
  const float* rp = rstd.data<float>();
  float* dxp = dx.data<float>();
  float* dwp = dw.data<float>();
  float* dbp = db.data<float>();
  // Per-thread partial sums, added in thread order afterwards: the same bits
  // on every run (exact resume depends on it), unlike a critical section.
  const int nt = omp_get_max_threads();
  std::vector<float> partial(size_t(nt) * 2 * size_t(C), 0.f);
#pragma omp parallel
  {
    float* dw_local = partial.data() + size_t(omp_get_thread_num()) * 2 * size_t(C);
    float* db_local = dw_local + C;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* drow = dp + n * C;
      const float* xrow = xp + n * C;
      const float mu = mp[n], rs = rp[n];
      // dx = rstd · (dŷ − mean(dŷ) − x̂ · mean(dŷ · x̂)), dŷ = dout · w
      float sum_dy = 0.f, sum_dy_xhat = 0.f;
      for (int64_t c = 0; c < C; ++c) {
        const float xhat = (xrow[c] - mu) * rs;
        const float dyhat = drow[c] * wp[c];
        sum_dy += dyhat;
        sum_dy_xhat += dyhat * xhat;
        dw_local[c] += drow[c] * xhat;
        db_local[c] += drow[c];
      }
      const float mean_dy = sum_dy / float(C), mean_dy_xhat = sum_dy_xhat / float(C);
      float* dxrow = dxp + n * C;
      for (int64_t c = 0; c < C; ++c) {
        const float xhat = (xrow[c] - mu) * rs;
        dxrow[c] = rs * (drow[c] * wp[c] - mean_dy - xhat * mean_dy_xhat);
      }
    }
  }
  for (int t = 0; t < nt; ++t)
    for (int64_t c = 0; c < C; ++c) {
      dwp[c] += partial[(size_t(t) * 2) * size_t(C) + size_t(c)];
      dbp[c] += partial[(size_t(t) * 2 + 1) * size_t(C) + size_t(c)];
    }
}

}  // namespace trident::backend
