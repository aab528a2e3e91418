// BatchSource: where the model's batches come from. Batch `batch`'s global
// samples [first, first + count) as inputs and next-token targets, each
// (count, seq_len) i32: a pure function of (batch, sample), so every
// data-parallel rank and micro-batch takes its share of the same global
// batch (Note [layout-independent sampling] in sampler.h). Training draws
// random windows (GlobalBatchSampler), evaluation reads the held-out data in
// order (SequentialBatches).
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"
#include "framework/data/token_view.h"

namespace trident::data {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Start offset in the tokens of global sample `sample` of batch `batch`.
  virtual int64_t window_start(int64_t batch, int64_t sample) const = 0;
  // Samples [first, first + count) of the batch; windows are seq_len + 1 tokens.
  void fill(int64_t batch, int64_t first, int64_t count, Tensor& inputs, Tensor& targets) const;

 protected:
  BatchSource(TokenView tokens, int64_t seq_len);
  TokenView tokens_;
  int64_t seq_len_;
};

// The validation view: sample j of batch b is window (b · global_batch + j)
// of the consecutive windows of seq_len + 1 tokens (each starting where the
// last one's inputs end), wrapping around when the data runs out. Every
// evaluation reads the same batches, so the validation curve compares like
// with like.
class SequentialBatches final : public BatchSource {
 public:
  // `tokens` must hold a window (the caller says so to the user first).
  SequentialBatches(TokenView tokens, int64_t seq_len, int64_t global_batch);
  int64_t window_start(int64_t batch, int64_t sample) const override;
  int64_t num_windows() const { return windows_; }

 private:
  int64_t global_batch_, windows_;
};

}  // namespace trident::data
