// Tensor-parallel linear layers, y = x · Wᵀ + b with W stored (out, in) as
// in torch.nn.Linear (Megatron-LM, Shoeybi et al. 2019):
//
// ColumnParallelLinear splits W by output rows: rank r holds (out/tp, in)
// and computes its slice of y from the whole x; the partial dx of every
// rank are summed in backward (copy_to_tensor_parallel_region).
// `blocks` > 1 splits each of that many equal row blocks (the Q|K|V of a
// fused projection), so every rank gets its heads of all three.
//
// RowParallelLinear splits W by input columns: rank r holds (out, in/tp),
// takes its slice of x and produces a partial y that is summed across
// ranks (reduce_from_tensor_parallel_region) before the replicated bias.
//
// With a TP group of one both are the plain linear layer.
#pragma once

#include "framework/backend/backend.h"
#include "framework/core/param.h"
#include "framework/parallel/tensor_parallel.h"

namespace trident::gpt {

class ColumnParallelLinear {
 public:
  ColumnParallelLinear(const std::string& name, int64_t in_features, int64_t out_features, float init_std,
                       DType dtype, parallel::TpGroup tp, int64_t blocks = 1);

  // x (N, in) -> y (N, out/tp)
  void forward(backend::Backend& be, const Tensor& x, Tensor& y);
  // dy (N, out/tp), the forward input x (N, in) -> dx (N, in), summed over TP; dW, db accumulate.
  void backward(backend::Backend& be, const Tensor& x, const Tensor& dy, Tensor& dx);

  Param weight;  // (out/tp, in), split along dim 0
  Param bias;    // (out/tp,)
  parallel::TpGroup tp;
};

class RowParallelLinear {
 public:
  RowParallelLinear(const std::string& name, int64_t in_features, int64_t out_features, float init_std, DType dtype,
                    parallel::TpGroup tp);

  // x (N, in/tp) -> y (N, out), summed over TP
  void forward(backend::Backend& be, const Tensor& x, Tensor& y);
  // dy (N, out) (the same on every TP rank), x (N, in/tp) -> dx (N, in/tp); dW, db accumulate.
  void backward(backend::Backend& be, const Tensor& x, const Tensor& dy, Tensor& dx);

  Param weight;  // (out, in/tp), split along dim 1
  Param bias;    // (out,), replicated
  parallel::TpGroup tp;
};

}  // namespace trident::gpt
