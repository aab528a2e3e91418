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
// Under sequence parallelism (tp.sequence_shards() > 1) the whole-token
// ends of the pair are cut by rows (Note [sequence-parallel rows]): the
// column layer's input arrives as this rank's rows (N/tp, in) and is
// all-gathered (gather_from_sequence_parallel_region), and the row layer's
// partial output is reduce-scattered to this rank's rows (N/tp, out)
// (reduce_scatter_to_sequence_parallel_region) before the bias. N is always
// the number of whole token rows.
//
// With a TP group of one both are the plain linear layer. Without a bias
// (--disable-bias-linear) the `bias` Param is empty and not a parameter.
#pragma once

#include "framework/backend/backend.h"
#include "framework/core/param.h"
#include "framework/parallel/sequence_parallel.h"

namespace trident::gpt {

class ColumnParallelLinear {
 public:
  ColumnParallelLinear(const std::string& name, int64_t in_features, int64_t out_features, float init_std,
                       DType dtype, parallel::TpGroup tp, int64_t blocks = 1, bool with_bias = true);
  // weight, and bias when there is one.
  std::vector<Param*> params();

  // x (N, in), or this rank's rows (N/tp, in) under SP -> y (N, out/tp)
  void forward(backend::Backend& be, const Tensor& x, Tensor& y);
  // dy (N, out/tp), the forward input x as forward took it -> dx shaped like
  // x, summed over TP; dW, db accumulate. Under SP x is gathered again here
  // rather than kept from forward: holding 1/tp of it is the memory saved.
  void backward(backend::Backend& be, const Tensor& x, const Tensor& dy, Tensor& dx);

  Param weight;  // (out/tp, in), split along dim 0
  Param bias;    // (out/tp,), or empty
  parallel::TpGroup tp;

 private:
  Tensor gathered_input(const Tensor& x) const;  // x (N/tp, in) -> (N, in)
};

class RowParallelLinear {
 public:
  // `blocks` > 1 splits each of that many equal column blocks of W (the
  // query groups of an attention output projection: Note [query groups]).
  RowParallelLinear(const std::string& name, int64_t in_features, int64_t out_features, float init_std, DType dtype,
                    parallel::TpGroup tp, int64_t blocks = 1, bool with_bias = true);
  std::vector<Param*> params();

  // x (N, in/tp) -> y (N, out) summed over TP, or under SP this rank's rows of it (N/tp, out)
  void forward(backend::Backend& be, const Tensor& x, Tensor& y);
  // dy shaped like y (the same on every TP rank without SP), x (N, in/tp) ->
  // dx (N, in/tp); dW, db accumulate (db over this rank's rows only under SP).
  void backward(backend::Backend& be, const Tensor& x, const Tensor& dy, Tensor& dx);

  Param weight;  // (out, in/tp), split along dim 1
  Param bias;    // (out,), replicated, or empty; under SP its gradient is summed over TP by the trainer
  parallel::TpGroup tp;
};

}  // namespace trident::gpt
