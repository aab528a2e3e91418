#include "framework/data/sampler.h"

namespace trident::data {

GlobalBatchSampler::GlobalBatchSampler(TokenView tokens, int64_t seq_len, uint64_t seed)
    : tokens_(tokens), seq_len_(seq_len), rng_(seed, "sampler") {
  TRIDENT_CHECK(tokens.size > seq_len, "corpus of ", tokens.size, " tokens for windows of ", seq_len + 1);
}

int64_t GlobalBatchSampler::window_start(int64_t iteration, int64_t sample) const {
  const uint64_t n_starts = uint64_t(tokens_.size - seq_len_);  // windows of seq_len + 1 fit
  return int64_t(rng_.below(n_starts, uint64_t(iteration), uint64_t(sample)));
}

void GlobalBatchSampler::fill(int64_t iteration, int64_t first, int64_t count, Tensor& inputs,
                              Tensor& targets) const {
  TRIDENT_CHECK(inputs.numel() == count * seq_len_ && targets.numel() == count * seq_len_, "sampler buffers");
  int32_t* in = inputs.data<int32_t>();
  int32_t* tg = targets.data<int32_t>();
  for (int64_t s = 0; s < count; ++s) {
    const int64_t start = window_start(iteration, first + s);
    for (int64_t t = 0; t < seq_len_; ++t) {
      in[s * seq_len_ + t] = tokens_.at(start + t);
      tg[s * seq_len_ + t] = tokens_.at(start + t + 1);
    }
  }
}

}  // namespace trident::data
