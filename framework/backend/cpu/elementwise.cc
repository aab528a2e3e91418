// GELU, bias, residual add, scaling and sums of squares: the elementwise and
// row/column-reduction operations.
#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>

#include <vector>

#include "framework/backend/cpu/vector_math.h"

namespace trident::backend {
namespace {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;
}  // namespace

void CpuBackend::gelu_forward(const Tensor& x, Tensor& out) {
  TRIDENT_CHECK(x.numel() == out.numel(), "gelu shapes");
  const float* xp = x.data<float>();
  float* op = out.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = xp[i];
    op[i] = 0.5f * v * (1.f + cpu::tanh_poly(kSqrt2OverPi * (v + kGeluCubic * v * v * v)));
  }
}

void CpuBackend::gelu_backward(const Tensor& x, const Tensor& dout, Tensor& dx) {
  TRIDENT_CHECK(x.numel() == dout.numel() && x.numel() == dx.numel(), "gelu shapes");
  const float* xp = x.data<float>();
  const float* dp = dout.data<float>();
  float* dxp = dx.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = xp[i];
    const float t = cpu::tanh_poly(kSqrt2OverPi * (v + kGeluCubic * v * v * v));
    const float dinner = kSqrt2OverPi * (1.f + 3.f * kGeluCubic * v * v);
    dxp[i] = dp[i] * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * dinner);
  }
}

void CpuBackend::bias_add(Tensor& y, const Tensor& b) {
  const int64_t C = b.numel(), N = y.numel() / C;
  TRIDENT_CHECK(y.size(-1) == C, "bias of ", C, " for rows of ", y.size(-1));
  float* yp = y.data<float>();
  const float* bp = b.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) yp[n * C + c] += bp[c];
}

void CpuBackend::bias_backward(const Tensor& dy, Tensor& db) {
  const int64_t C = db.numel(), N = dy.numel() / C;
  TRIDENT_CHECK(dy.size(-1) == C, "bias grad of ", C, " for rows of ", dy.size(-1));
  const float* dp = dy.data<float>();
  float* dbp = db.data<float>();
  // Per-thread partials added in thread order: deterministic (see layernorm.cc).
  const int nt = omp_get_max_threads();
  std::vector<float> partial(size_t(nt) * size_t(C), 0.f);
#pragma omp parallel
  {
    float* local = partial.data() + size_t(omp_get_thread_num()) * size_t(C);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) local[c] += dp[n * C + c];
  }
  for (int t = 0; t < nt; ++t)
    for (int64_t c = 0; c < C; ++c) dbp[c] += partial[size_t(t) * size_t(C) + size_t(c)];
}

void CpuBackend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  TRIDENT_CHECK(a.numel() == b.numel() && a.numel() == out.numel(), "add shapes");
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  float* op = out.data<float>();
  const int64_t n = a.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) op[i] = ap[i] + bp[i];
}

double CpuBackend::sum_squares(const Tensor& x) {
  const float* xp = x.data<float>();
  const int64_t n = x.numel();
  // Per-thread partials summed in thread order: an OpenMP reduction may
  // combine them in any order, and the grad norm must be reproducible.
  std::vector<double> partial(size_t(omp_get_max_threads()), 0.0);
#pragma omp parallel
  {
    double acc = 0.0;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) acc += double(xp[i]) * double(xp[i]);
    partial[size_t(omp_get_thread_num())] = acc;
  }
  double total = 0.0;
  for (double v : partial) total += v;
  return total;
}

void CpuBackend::scale(Tensor& x, float s) {
  float* xp = x.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) xp[i] *= s;
}

}  // namespace trident::backend
