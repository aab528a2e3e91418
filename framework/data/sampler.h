// GlobalBatchSampler: which text window each training sample is.
//
// Note [layout-independent sampling]
// Global sample g (the g-th sample of the run) starts at an offset drawn from
// the counter-based generator keyed by (seed, "sampler") with counter
// (g / B + 1, g mod B), B the run's sampler batch: a pure function of g, with
// no state that depends on who asks. The global batch of an iteration is a
// range of samples — [consumed, consumed + global batch) — defined first and
// only then split among data-parallel ranks and micro-batches, so every
// (tp, pp, dp) layout and every micro-batch size trains on the same samples,
// and a resumed run needs only the consumed-samples count to continue exactly,
// whatever global batch it now uses. B is the global batch the run started
// with, kept in its checkpoints (with it, sample g is the g mod B-th sample of
// data batch g / B + 1, as it always was).
#pragma once

#include <cstdint>
#include <vector>

#include "framework/core/rng.h"
#include "framework/data/batch_source.h"

namespace trident::data {

class GlobalBatchSampler final : public BatchSource {
 public:
  // `tokens` must outlive the sampler; windows are seq_len + 1 tokens long.
  GlobalBatchSampler(TokenView tokens, int64_t seq_len, uint64_t seed, int64_t sampler_batch);
  // A blend (Note [blends] in batch_source.h): one view and weight per dataset.
  GlobalBatchSampler(std::vector<TokenView> views, std::vector<double> weights, int64_t seq_len, uint64_t seed,
                     int64_t sampler_batch);

  int64_t window_start(int64_t sample) const override;

 private:
  Philox rng_;
  int64_t sampler_batch_;
};

}  // namespace trident::data
