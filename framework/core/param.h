// Param: a model parameter that knows its global self (DESIGN.md idea 2):
// its global name and shape, which slice of it this rank holds, the
// compute-dtype weights and the FP32 main gradient the backward pass
// accumulates into. Initialisation, checkpoints, grad-norm and export all
// read these facts; nothing else describes a parameter.
#pragma once

#include <string>

#include "framework/core/tensor.h"

namespace trident {

// How tensor parallelism splits a parameter: `dim` is the split dimension
// (-1: replicated, every TP rank holds all of it) and [offset, offset +
// length) the range of that dimension this rank holds.
struct ShardSpec {
  int dim = -1;
  int64_t offset = 0;
  int64_t length = 0;
  bool replicated() const { return dim < 0; }
};

enum class InitKind { normal, zeros, ones };

struct Param {
  std::string name;          // global, e.g. "layers.3.mlp.fc1.weight"
  Shape global_shape;        // shape of the whole tensor across TP ranks
  ShardSpec shard;           // this rank's slice of it
  InitKind init = InitKind::normal;
  float init_std = 0.02f;    // for InitKind::normal
  bool weight_decay = true;  // false for biases and norm weights
  Tensor value;              // the local slice, in the compute dtype
  Tensor grad;               // the local slice's main gradient, f32

  // Global element index of local element `local` (row-major), so the
  // counter-based initialiser can draw the value the whole tensor would have.
  int64_t global_index(int64_t local) const;
};

// Makes a replicated (unsharded) parameter with zeroed value and gradient.
Param make_param(std::string name, Shape shape, InitKind init, float init_std, bool weight_decay,
                 DType dtype = DType::f32);

// Fills p.value from (seed, p.name, global element index): see
// Note [layout-invariant initialisation] in rng.h.
void init_param(Param& p, uint64_t seed);

}  // namespace trident
