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
#include "framework/data/batch_source.h"

namespace trident::data {

class GlobalBatchSampler final : public BatchSource {
 public:
  // `tokens` must outlive the sampler; windows are seq_len + 1 tokens long.
  GlobalBatchSampler(TokenView tokens, int64_t seq_len, uint64_t seed);

  // Start offset of global sample `sample` of iteration `iteration` (the batch).
  int64_t window_start(int64_t iteration, int64_t sample) const override;

 private:
  Philox rng_;
};

}  // namespace trident::data
