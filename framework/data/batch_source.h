// BatchSource: where the model's samples come from. Samples are numbered
// globally over the whole run (0, 1, 2, ...: the consumed-samples count of
// Megatron), and the window of sample g is a pure function of g — not of
// the batch size, the data-parallel rank or the micro-batch that asks
// (Note [layout-independent sampling] in sampler.h). So every layout trains
// on the same samples, and a run resumed with another global batch goes on
// with exactly the samples after the ones it consumed. Training draws
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
  // Start offset in the tokens of global sample `sample`.
  virtual int64_t window_start(int64_t sample) const = 0;
  // Samples [first, first + count): inputs and next-token targets, each
  // (count, seq_len) i32; windows are seq_len + 1 tokens.
  void fill(int64_t first, int64_t count, Tensor& inputs, Tensor& targets) const;

 protected:
  BatchSource(TokenView tokens, int64_t seq_len);
  TokenView tokens_;
  int64_t seq_len_;
};

// The validation view: sample g is the g-th of the consecutive windows of
// seq_len + 1 tokens (each starting where the last one's inputs end),
// wrapping around when the data runs out. Evaluation asks for samples
// 0, 1, 2, ... every time, so the validation curve compares like with like.
class SequentialBatches final : public BatchSource {
 public:
  // `tokens` must hold a window (the caller says so to the user first).
  SequentialBatches(TokenView tokens, int64_t seq_len);
  int64_t window_start(int64_t sample) const override;
  int64_t num_windows() const { return windows_; }

 private:
  int64_t windows_;
};

}  // namespace trident::data
