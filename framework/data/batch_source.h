// BatchSource: where the model's samples come from. Samples are numbered
// globally over the whole run (0, 1, 2, ...: the consumed-samples count of
// Megatron), and the window of sample g is a pure function of g — not of
// the batch size, the data-parallel rank or the micro-batch that asks
// (Note [layout-independent sampling] in sampler.h). So every layout trains
// on the same samples, and a run resumed with another global batch goes on
// with exactly the samples after the ones it consumed. Training draws
// random windows (GlobalBatchSampler), evaluation reads the held-out data in
// order (SequentialBatches).
//
// Note [blends]: with several datasets (Megatron's --data-path 0.7 A 0.3 B)
// sample g comes from dataset d, drawn by weight with a counter-based
// uniform keyed (seed, "blend") at counter g — deterministic, the same for
// every layout, and the shares converge to the weights (binomially: ±0.5%
// over 10,000 samples at 0.3). One dataset draws nothing: its samples are
// those of a run without blending.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/core/rng.h"
#include "framework/core/tensor.h"
#include "framework/data/token_view.h"

namespace trident::data {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // The dataset global sample `sample` comes from (Note [blends]).
  int dataset_of(int64_t sample) const;
  // Start offset of sample `sample` in the tokens of its dataset.
  virtual int64_t window_start(int64_t sample) const = 0;
  // Samples [first, first + count): inputs and next-token targets, each
  // (count, seq_len) i32; windows are seq_len + 1 tokens.
  void fill(int64_t first, int64_t count, Tensor& inputs, Tensor& targets) const;

 protected:
  // `weights`: one per view, positive (normalised here); `seed` keys the blend.
  BatchSource(std::vector<TokenView> views, std::vector<double> weights, int64_t seq_len, uint64_t seed);
  std::vector<TokenView> views_;
  std::vector<double> cumulative_;  // normalised running sums of the weights
  int64_t seq_len_;
  Philox blend_;
};

// The validation view: sample g is window g (wrapping) of the consecutive
// windows of seq_len + 1 tokens of its dataset, each starting where the last
// one's inputs end. Evaluation asks for samples 0, 1, 2, ... every time, so
// the validation curve compares like with like.
class SequentialBatches final : public BatchSource {
 public:
  // Every view must hold a window (the caller says so to the user first).
  SequentialBatches(TokenView tokens, int64_t seq_len);
  SequentialBatches(std::vector<TokenView> views, std::vector<double> weights, int64_t seq_len, uint64_t seed);
  int64_t window_start(int64_t sample) const override;
  int64_t num_windows(int dataset = 0) const { return (views_[size_t(dataset)].size - 1) / seq_len_; }
};

}  // namespace trident::data
