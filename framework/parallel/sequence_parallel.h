// Sequence-parallel regions (Megatron-Core's vocabulary; Korthikanti et al.
// 2022), as explicit forward/backward pairs beside tensor_parallel.h's:
//
//   gather_from_sequence_parallel_region      forward: all-gather      backward: reduce-scatter
//   reduce_scatter_to_sequence_parallel_region forward: reduce-scatter backward: all-gather
//
// Under --sequence-parallel a column-parallel layer's input enters through
// gather_from (it needs every token; each rank's dx is partial) and a
// row-parallel layer's output leaves through reduce_scatter_to (each rank's
// y is partial, and each keeps only its own rows of the sum). Layer norms,
// dropout-free residual adds and the pipeline boundary run on the parts.
//
// Note [sequence-parallel rows]
// Activations are (B, T, C), batch-major: viewed as the (B·T, C) matrix of
// token rows, TP rank r of tp holds rows [r·B·T/tp, (r+1)·B·T/tp), kept as a
// tensor of shape (B, T/tp, C) (the same number of elements). With B = 1
// that is exactly the r-th piece of the sequence; with B > 1 it is
// Megatron's cut of its sequence-major [s, b, h] layout, transposed to ours.
// Only row-wise operations (layer norm, residual add, the embedding's sum)
// touch the parts, so which rows a rank holds matters to nobody but the
// collectives, and a contiguous cut needs no transposes: the all-gather of
// the parts in rank order IS the (B·T, C) matrix, and a reduce-scatter of a
// (B·T, C) matrix hands rank r exactly its rows.
#pragma once

#include "framework/parallel/tensor_parallel.h"

namespace trident::parallel {

// part (N/tp, C) from every rank -> full (N, C), the parts in rank order.
// No arithmetic, so 16-bit tensors travel as they are.
inline void all_gather_over_tensor_parallel_region(TpGroup tp, const Tensor& part, Tensor& full) {
  if (tp.size() == 1) return full.copy_from(part);
  tp.comm->all_gather(part, full);
}

// full (N, C), partial on every rank -> part (N/tp, C): this rank's rows of
// the sum. 16-bit tensors are summed in f32 and rounded once, as
// all_reduce_over_tensor_parallel_region does.
inline void reduce_scatter_over_tensor_parallel_region(TpGroup tp, const Tensor& full, Tensor& part) {
  if (tp.size() == 1) return part.copy_from(full);
  if (full.dtype() == DType::f32) {
    tp.comm->reduce_scatter(full, part, dist::ReduceOp::sum);
    return;
  }
  Tensor wide = Tensor::empty(part.shape(), DType::f32, part.device());
  tp.comm->reduce_scatter(full.to(DType::f32), wide, dist::ReduceOp::sum);
  part.copy_from(wide);
}

// Forward of gather_from_sequence_parallel_region: part (N/tp, C) -> full (N, C).
inline void gather_from_sequence_parallel_region_forward(TpGroup tp, const Tensor& part, Tensor& full) {
  all_gather_over_tensor_parallel_region(tp, part, full);
}

// Backward of gather_from_sequence_parallel_region: the partial gradient of
// the whole (N, C) -> the summed gradient of this rank's rows (N/tp, C).
inline void gather_from_sequence_parallel_region_backward(TpGroup tp, const Tensor& grad_full, Tensor& grad_part) {
  reduce_scatter_over_tensor_parallel_region(tp, grad_full, grad_part);
}

// Forward of reduce_scatter_to_sequence_parallel_region: partial (N, C) ->
// this rank's rows of the sum (N/tp, C).
inline void reduce_scatter_to_sequence_parallel_region_forward(TpGroup tp, const Tensor& full, Tensor& part) {
  reduce_scatter_over_tensor_parallel_region(tp, full, part);
}

// Backward of reduce_scatter_to_sequence_parallel_region: each rank's rows'
// gradient (N/tp, C) -> the whole (N, C), the same on every rank.
inline void reduce_scatter_to_sequence_parallel_region_backward(TpGroup tp, const Tensor& grad_part,
                                                                Tensor& grad_full) {
  all_gather_over_tensor_parallel_region(tp, grad_part, grad_full);
}

}  // namespace trident::parallel
