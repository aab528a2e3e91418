// GlobalBatchSampler: which text windows iteration i trains on.
//
// Note [layout-independent sampling]
// Sample j of iteration i starts at an offset drawn from the counter-based
// generator keyed by (seed, "sampler") with counter (i, j): a pure function,
// with no state that depends on who asks. The global batch is defined first
// and only then split among data-parallel ranks and micro-batches, so every
// (tp, pp, dp) layout and every micro-batch size trains on the same samples,
// and a resumed run needs only the iteration number to continue exactly.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/core/rng.h"
#include "framework/core/tensor.h"
#include "framework/data/token_view.h"

namespace trident::data {

class GlobalBatchSampler {
 public:
  // `tokens` must outlive the sampler; windows are seq_len + 1 tokens long.
  GlobalBatchSampler(TokenView tokens, int64_t seq_len, uint64_t seed);

  // Start offset of global sample `sample` of iteration `iteration`.
  int64_t window_start(int64_t iteration, int64_t sample) const;

  // Samples [first, first + count) of the iteration's global batch:
  // inputs and next-token targets, each (count, seq_len) i32.
  void fill(int64_t iteration, int64_t first, int64_t count, Tensor& inputs, Tensor& targets) const;

 private:
  TokenView tokens_;
  int64_t seq_len_;
  Philox rng_;
};

}  // namespace trident::data
