#include "framework/backend/gemm_peak.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

namespace trident::backend {

using Clock = std::chrono::steady_clock;

double best_gemm_seconds(Backend& be, const Tensor& a, const Tensor& b, Tensor& c, int reps) {
  be.gemm(a, false, b, false, c);
  be.synchronize();
  double best = 1e30;
  for (int rep = 0; rep < reps; ++rep) {
    const auto t0 = Clock::now();
    be.gemm(a, false, b, false, c);
    be.synchronize();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

double measure_gemm_peak_gflops(Backend& be, int64_t n, DType dtype) {
  Tensor a = Tensor::empty({n, n}), b = Tensor::empty({n, n});
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  float* ap = a.data<float>();
  float* bp = b.data<float>();
  for (int64_t i = 0; i < n * n; ++i) { ap[i] = dist(gen); bp[i] = dist(gen); }
  if (dtype != DType::f32) {  // round the inputs, so the check below sees what the GEMM sees
    a = a.to(dtype).to(DType::f32);
    b = b.to(dtype).to(DType::f32);
    ap = a.data<float>();
    bp = b.data<float>();
  }
  const Tensor ad = a.to(dtype).to(be.device()), bd = b.to(dtype).to(be.device());
  Tensor c = Tensor::empty({n, n}, DType::f32, be.device());
  const double best = best_gemm_seconds(be, ad, bd, c, 6);
  const std::vector<float> ch = c.to_vector();
  for (int64_t k = 0; k < 8; ++k) {  // verify a few entries in float64
    const int64_t i = (k * 131) % n, j = (k * 71 + 5) % n;
    double ref = 0.0;
    for (int64_t l = 0; l < n; ++l) ref += double(ap[i * n + l]) * double(bp[l * n + j]);
    TRIDENT_CHECK(std::abs(ref - ch[size_t(i * n + j)]) < 1e-3 * std::sqrt(double(n)), "GEMM check failed");
  }
  return 2.0 * double(n) * double(n) * double(n) / best * 1e-9;
}

}  // namespace trident::backend
