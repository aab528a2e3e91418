// Whole tensors from tensor-parallel shards, for export and tests.
#pragma once

#include "framework/core/param.h"
#include "framework/parallel/tensor_parallel.h"

namespace trident::parallel {

// The parameter's global tensor (f32, host), assembled from every TP rank's
// slice per its ShardSpec (blocks included); the same on every rank.
Tensor gather_tensor_parallel(const Param& p, TpGroup tp);

}  // namespace trident::parallel
