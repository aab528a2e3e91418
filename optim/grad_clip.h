// Global gradient-norm clipping: ‖g‖ over every parameter of the model,
// counted once each; if ‖g‖ > max_norm every grad is scaled by
// max_norm / (‖g‖ + 1e-6), as Megatron-LM and torch.nn.utils do.
//
// Under model parallelism each rank holds part of the model: the squares
// of its sharded parameters are summed over the model-parallel group, and
// a parameter replicated across tensor-parallel ranks (layer norms,
// row-parallel biases, position embeddings) is counted on TP rank 0 only.
// A tied copy (Param::tied_copy) is counted on its owner only.
// Data-parallel replicas hold identical (already reduced) gradients and
// need no reduction — unless the distributed optimizer sharded them: then
// each data-parallel rank holds the summed gradient of its rows only, and
// the squares are summed over the data-parallel group too.
#pragma once

#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/param.h"
#include "framework/dist/comm.h"

namespace trident::optim {

struct GradNormGroup {
  dist::Comm* model_parallel = nullptr;  // TP × PP ranks of one replica; none: a single process
  int tp_rank = 0;
  dist::Comm* data_parallel = nullptr;   // set when each DP rank holds a shard of the gradients
};

// The gradients may still carry a loss scale (FP16): the norm is that of
// the unscaled gradients, and the coefficient both unscales and clips.
struct GradClip {
  double norm;   // of the unscaled gradients, before clipping
  float coeff;   // what every gradient is to be multiplied by
};

// From sum_squares of each parameter's grad (Backend::sum_squares_each, in
// `params` order; with sharded gradients, of this rank's rows of each, a
// parameter appearing once per shard): the global norm and the coefficient. max_norm <= 0
// measures (and unscales) without clipping. Nothing is modified: the
// trainer hands the coefficient to AdamW, which applies it as it reads
// each gradient (one pass over the gradients instead of two).
GradClip grad_clip_coefficient(const std::vector<Param*>& params, const std::vector<double>& sums, double max_norm,
                               GradNormGroup group = {}, double loss_scale = 1.0);

// The same, then every grad multiplied by the coefficient in place.
// Returns the norm before clipping.
double clip_grad_norm(backend::Backend& be, const std::vector<Param*>& params, double max_norm,
                      GradNormGroup group = {}, double loss_scale = 1.0);

}  // namespace trident::optim
