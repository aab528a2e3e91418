// Linear: y (N, out) = x (N, in) · Wᵀ + b, W stored (out, in) as in
// torch.nn.Linear, so tensor parallelism can later split W by rows
// (column-parallel) or by columns (row-parallel) without a transpose.
#pragma once

#include "framework/backend/backend.h"
#include "framework/core/param.h"

namespace trident::gpt {

class Linear {
 public:
  Linear(const std::string& name, int64_t in_features, int64_t out_features, float init_std, DType dtype);

  // x (N, in) -> y (N, out)
  void forward(backend::Backend& be, const Tensor& x, Tensor& y);
  // dy (N, out) and the forward input x (N, in) -> dx (N, in); dW, db accumulate.
  void backward(backend::Backend& be, const Tensor& x, const Tensor& dy, Tensor& dx);

  Param weight;  // (out, in)
  Param bias;    // (out,)
};

}  // namespace trident::gpt
