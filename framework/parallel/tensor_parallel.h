// Tensor-parallel regions (Megatron-Core's vocabulary), as explicit
// forward/backward pairs for layers that have no autograd:
//
//   copy_to_tensor_parallel_region      forward: identity     backward: all-reduce
//   reduce_from_tensor_parallel_region  forward: all-reduce   backward: identity
//
// A column-parallel layer's input enters through copy_to (every rank
// needs all of x; each rank's dx is partial); a row-parallel layer's output
// leaves through reduce_from (each rank's y is partial). Only the halves
// that communicate are functions here; the identities are comments where
// they happen.
#pragma once

#include "framework/core/tensor.h"
#include "framework/dist/comm.h"

namespace trident::parallel {

// The tensor-parallel group a layer works in; no Comm is a group of one.
struct TpGroup {
  dist::Comm* comm = nullptr;
  // --sequence-parallel: between the TP regions each rank holds 1/tp of the
  // token rows (docs/decisions.md, "Sequence parallelism"). Only with size() > 1.
  bool sequence_parallel = false;
  int rank() const { return comm ? comm->rank() : 0; }
  int size() const { return comm ? comm->size() : 1; }
  // How many parts the token rows are cut into between the TP regions:
  // size() under sequence parallelism, else 1 (every rank holds every row).
  int sequence_shards() const { return sequence_parallel && size() > 1 ? size() : 1; }
};

// The vocabulary-parallel cross-entropy's reductions (the row maximum,
// then the sum-of-exp and target-logit statistics) and the regions' sums,
// over the TP group. 16-bit activations are summed in f32 and rounded once.
inline void all_reduce_over_tensor_parallel_region(TpGroup tp, Tensor& t, dist::ReduceOp op) {
  if (tp.size() == 1) return;
  if (t.dtype() == DType::f32) {
    tp.comm->all_reduce(t, op);
    return;
  }
  Tensor wide = t.to(DType::f32);
  tp.comm->all_reduce(wide, op);
  t.copy_from(wide);
}

// Backward of copy_to_tensor_parallel_region: sum the partial input gradients.
inline void copy_to_tensor_parallel_region_backward(TpGroup tp, Tensor& grad) {
  all_reduce_over_tensor_parallel_region(tp, grad, dist::ReduceOp::sum);
}

// Forward of reduce_from_tensor_parallel_region: sum the partial outputs.
inline void reduce_from_tensor_parallel_region_forward(TpGroup tp, Tensor& out) {
  all_reduce_over_tensor_parallel_region(tp, out, dist::ReduceOp::sum);
}

}  // namespace trident::parallel
