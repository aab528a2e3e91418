#include <cmath>

#include "framework/backend/backend.h"

namespace trident::backend {

void rope_angles(int64_t T, int64_t D, float base, float* cos_t, float* sin_t) {
  const int64_t half = D / 2;
  std::vector<double> theta(static_cast<size_t>(half));  // base^(−2i/D): per pair, not per position
  for (int64_t i = 0; i < half; ++i) theta[size_t(i)] = std::pow(double(base), -2.0 * double(i) / double(D));
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = double(t) * theta[size_t(i)];
      cos_t[t * half + i] = float(std::cos(angle));
      sin_t[t * half + i] = float(std::sin(angle));
    }
}

}  // namespace trident::backend
