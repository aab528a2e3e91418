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
// (-1: replicated, every TP rank holds all of it). The dimension is made of
// `blocks` equal blocks (3 for a fused Q|K|V weight, else 1) and this rank
// holds [offset, offset + length) of each block, concatenated.
struct ShardSpec {
  int dim = -1;
  int64_t offset = 0;
  int64_t length = 0;
  int64_t blocks = 1;
  bool replicated() const { return dim < 0; }

  // Rank r of n's share of a dimension of `global` elements in `blocks` blocks.
  static ShardSpec split(int dim, int64_t global, int r, int n, int64_t blocks = 1);
};

enum class InitKind { normal, zeros, ones };

struct Param {
  std::string name;          // global, e.g. "layers.3.mlp.fc1.weight"
  Shape global_shape;        // shape of the whole tensor across TP ranks
  ShardSpec shard;           // this rank's slice of it
  InitKind init = InitKind::normal;
  float init_std = 0.f;      // for InitKind::normal: the model config's (GptConfig::init_method_std)
  bool weight_decay = true;  // false for biases and norm weights
  // A second copy of a parameter another rank owns (the token table on the
  // last pipeline stage, tied to the embedding's): it is updated exactly
  // like the original, but counted once in the grad norm and saved once, by the owner.
  bool tied_copy = false;
  // Rows of global_shape[0] that hold real values; the rest pad the dimension
  // so tensor parallelism splits it evenly (the token table's vocabulary
  // padding). Checkpoints and exports keep only these. -1: every row is real.
  int64_t unpadded_rows = -1;
  // Under sequence parallelism a parameter replicated over TP that acts on
  // sequence-sharded activations (layer norms, row-parallel biases): each TP
  // rank's gradient covers its tokens only, and the trainer sums them over
  // TP before the data-parallel reduction (Megatron's `sequence_parallel`).
  bool sequence_parallel = false;
  Tensor value;              // the local slice, in the compute dtype
  Tensor grad;               // the local slice's main gradient, f32

  // Global element index of local element `local` (row-major), so the
  // counter-based initialiser can draw the value the whole tensor would have.
  int64_t global_index(int64_t local) const;
};

// Makes a replicated (unsharded) parameter with zeroed value and gradient.
Param make_param(std::string name, Shape shape, InitKind init, float init_std, bool weight_decay,
                 DType dtype = DType::f32);
// Makes this rank's shard of a parameter of `global_shape` split by `shard`.
Param make_sharded_param(std::string name, Shape global_shape, ShardSpec shard, InitKind init, float init_std,
                         bool weight_decay, DType dtype = DType::f32);

// Fills p.value from (seed, p.name, global element index): see
// Note [layout-invariant initialisation] in rng.h.
void init_param(Param& p, uint64_t seed);

}  // namespace trident
