// The problem a Backend::gemm call describes, checked once for every backend.
#pragma once

#include "framework/core/tensor.h"

namespace trident::backend {

struct GemmShape {
  int64_t batch;    // 1 for 2-D operands
  int64_t M, N, K;  // c (M, N) = op(a) (M, K) · op(b) (K, N)
};

// Throws trident::Error naming the shapes when the operands do not agree.
GemmShape gemm_shape(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c);

}  // namespace trident::backend
