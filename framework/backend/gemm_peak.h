// The GEMM peak of a backend in a dtype (16-bit inputs accumulate in f32):
// the best of several n x n x n products, verified against a float64 spot
// check. MFU is model FLOP/s over this figure, measured on the same device.
#pragma once

#include <cstdint>

#include "framework/backend/backend.h"

namespace trident::backend {

double measure_gemm_peak_gflops(Backend& be, int64_t n, DType dtype);

// The fewest seconds of `reps` calls of be.gemm(a, b -> c), after one
// untimed call (primitive creation, algorithm choice), each synchronized.
double best_gemm_seconds(Backend& be, const Tensor& a, const Tensor& b, Tensor& c, int reps);

}  // namespace trident::backend
