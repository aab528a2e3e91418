// GELU, SwiGLU, bias, residual add, scaling and sums of squares: the
// elementwise and row/column-reduction operations.
#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>

#include <cmath>
#include <vector>

#include "framework/backend/cpu/element.h"
#include "framework/backend/cpu/vector_math.h"
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {
namespace {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;
}  // namespace

void CpuBackend::gelu_forward(const Tensor& x, Tensor& out) {
  TRIDENT_CHECK(x.numel() == out.numel(), "gelu shapes");
  cpu::check_same_dtype("gelu_forward", {&x, &out});
  const int64_t n = x.numel();
  cpu::dispatch_float(x.dtype(), "gelu_forward", [&]<typename T>() {
    const T* xp = x.data<T>();
    T* op = out.data<T>();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float v = to_f32(xp[i]);
      op[i] = from_f32<T>(0.5f * v * (1.f + cpu::tanh_poly(kSqrt2OverPi * (v + kGeluCubic * v * v * v))));
    }
  });
}

void CpuBackend::gelu_backward(const Tensor& x, const Tensor& dout, Tensor& dx) {
  TRIDENT_CHECK(x.numel() == dout.numel() && x.numel() == dx.numel(), "gelu shapes");
  cpu::check_same_dtype("gelu_backward", {&x, &dout, &dx});
  const int64_t n = x.numel();
  cpu::dispatch_float(x.dtype(), "gelu_backward", [&]<typename T>() {
    const T* xp = x.data<T>();
    const T* dp = dout.data<T>();
    T* dxp = dx.data<T>();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float v = to_f32(xp[i]);
      const float t = cpu::tanh_poly(kSqrt2OverPi * (v + kGeluCubic * v * v * v));
      const float dinner = kSqrt2OverPi * (1.f + 3.f * kGeluCubic * v * v);
      dxp[i] = from_f32<T>(to_f32(dp[i]) * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * dinner));
    }
  });
}

// SwiGLU: out = silu(g) · u with g = x[:, :F], u = x[:, F:], silu(g) = g·σ(g).
// Backward: du = dout · silu(g), dg = dout · u · σ(g)·(1 + g·(1 − σ(g))).
void CpuBackend::swiglu_forward(const Tensor& x, Tensor& out) {
  TRIDENT_CHECK(x.dim() >= 1 && x.size(-1) > 0, "swiglu of x ", shape_str(x.shape()), ": no gate and up columns");
  const int64_t F2 = x.size(-1), F = F2 / 2, N = x.numel() / F2;
  TRIDENT_CHECK(F2 % 2 == 0 && out.size(-1) == F && out.numel() == N * F, "swiglu shapes: x ", shape_str(x.shape()),
                " out ", shape_str(out.shape()));
  cpu::check_same_dtype("swiglu_forward", {&x, &out});
  cpu::dispatch_float(x.dtype(), "swiglu_forward", [&]<typename T>() {
    const T* xp = x.data<T>();
    T* op = out.data<T>();
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const T* gate = xp + n * F2;
      const T* up = gate + F;
      T* orow = op + n * F;
#pragma omp simd
      for (int64_t f = 0; f < F; ++f) {
        const float g = to_f32(gate[f]);
        const float sig = cpu::sigmoid_poly(g);
        orow[f] = from_f32<T>(g * sig * to_f32(up[f]));
      }
    }
  });
}

void CpuBackend::swiglu_backward(const Tensor& x, const Tensor& dout, Tensor& dx) {
  TRIDENT_CHECK(x.dim() >= 1 && x.size(-1) > 0, "swiglu backward of x ", shape_str(x.shape()),
                ": no gate and up columns");
  const int64_t F2 = x.size(-1), F = F2 / 2, N = x.numel() / F2;
  TRIDENT_CHECK(F2 % 2 == 0 && dout.size(-1) == F && dout.numel() == N * F && dx.numel() == x.numel(),
                "swiglu backward shapes: x ", shape_str(x.shape()), " dout ", shape_str(dout.shape()));
  cpu::check_same_dtype("swiglu_backward", {&x, &dout, &dx});
  cpu::dispatch_float(x.dtype(), "swiglu_backward", [&]<typename T>() {
    const T* xp = x.data<T>();
    const T* dp = dout.data<T>();
    T* dxp = dx.data<T>();
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const T* gate = xp + n * F2;
      const T* up = gate + F;
      const T* drow = dp + n * F;
      T* dgate = dxp + n * F2;
      T* dup = dgate + F;
#pragma omp simd
      for (int64_t f = 0; f < F; ++f) {
        const float g = to_f32(gate[f]), u = to_f32(up[f]), d = to_f32(drow[f]);
        const float sig = cpu::sigmoid_poly(g);
        dgate[f] = from_f32<T>(d * u * sig * (1.f + g * (1.f - sig)));
        dup[f] = from_f32<T>(d * g * sig);
      }
    }
  });
}

void CpuBackend::bias_add(Tensor& y, const Tensor& b) {
  const int64_t C = b.numel(), N = y.numel() / C;
  TRIDENT_CHECK(y.size(-1) == C, "bias of ", C, " for rows of ", y.size(-1));
  cpu::check_same_dtype("bias_add", {&y, &b});
  cpu::dispatch_float(y.dtype(), "bias_add", [&]<typename T>() {
    T* yp = y.data<T>();
    const T* bp = b.data<T>();
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) yp[n * C + c] = from_f32<T>(to_f32(yp[n * C + c]) + to_f32(bp[c]));
  });
}

void CpuBackend::bias_backward(const Tensor& dy, Tensor& db) {
  const int64_t C = db.numel(), N = dy.numel() / C;
  TRIDENT_CHECK(dy.size(-1) == C, "bias grad of ", C, " for rows of ", dy.size(-1));
  float* dbp = db.data<float>();
  // Per-thread partials added in thread order: deterministic (see layernorm.cc).
  const int nt = omp_get_max_threads();
  std::vector<float> partial(size_t(nt) * size_t(C), 0.f);
  cpu::dispatch_float(dy.dtype(), "bias_backward", [&]<typename T>() {
    const T* dp = dy.data<T>();
#pragma omp parallel
    {
      float* local = partial.data() + size_t(omp_get_thread_num()) * size_t(C);
#pragma omp for schedule(static)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) local[c] += to_f32(dp[n * C + c]);
    }
  });
  for (int t = 0; t < nt; ++t)
    for (int64_t c = 0; c < C; ++c) dbp[c] += partial[size_t(t) * size_t(C) + size_t(c)];
}

void CpuBackend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  TRIDENT_CHECK(a.numel() == b.numel() && a.numel() == out.numel(), "add shapes");
  cpu::check_same_dtype("add", {&a, &b, &out});
  const int64_t n = a.numel();
  cpu::dispatch_float(a.dtype(), "add", [&]<typename T>() {
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* op = out.data<T>();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) op[i] = from_f32<T>(to_f32(ap[i]) + to_f32(bp[i]));
  });
}

bool CpuBackend::all_finite(const Tensor& x) {
  const int64_t n = x.numel();
  bool finite = true;
  cpu::dispatch_float(x.dtype(), "all_finite", [&]<typename T>() {
    const T* xp = x.data<T>();
    int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static)
    for (int64_t i = 0; i < n; ++i) bad |= !std::isfinite(to_f32(xp[i]));
    finite = bad == 0;
  });
  return finite;
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
