#include "framework/data/sampler.h"

namespace trident::data {

GlobalBatchSampler::GlobalBatchSampler(TokenView tokens, int64_t seq_len, uint64_t seed, int64_t sampler_batch)
    : GlobalBatchSampler(std::vector<TokenView>{tokens}, {1.0}, seq_len, seed, sampler_batch) {}

GlobalBatchSampler::GlobalBatchSampler(std::vector<TokenView> views, std::vector<double> weights, int64_t seq_len,
                                       uint64_t seed, int64_t sampler_batch)
    : BatchSource(std::move(views), std::move(weights), seq_len, seed), rng_(seed, "sampler"),
      sampler_batch_(sampler_batch) {
  TRIDENT_CHECK(sampler_batch > 0, "sampler batch ", sampler_batch);
  for (const TokenView& v : views_)
    TRIDENT_CHECK(v.size > seq_len, "corpus of ", v.size, " tokens for windows of ", seq_len + 1);
}

int64_t GlobalBatchSampler::window_start(int64_t sample) const {
  const uint64_t n_starts = uint64_t(views_[size_t(dataset_of(sample))].size - seq_len_);  // windows of seq_len + 1 fit
  return int64_t(rng_.below(n_starts, uint64_t(sample / sampler_batch_ + 1), uint64_t(sample % sampler_batch_)));
}

}  // namespace trident::data
