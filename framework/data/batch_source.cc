#include "framework/data/batch_source.h"

#include "framework/core/error.h"

namespace trident::data {

BatchSource::BatchSource(std::vector<TokenView> views, std::vector<double> weights, int64_t seq_len, uint64_t seed)
    : views_(std::move(views)), seq_len_(seq_len), blend_(seed, "blend") {
  TRIDENT_CHECK(!views_.empty() && weights.size() == views_.size(), "a blend of ", views_.size(), " datasets with ",
                weights.size(), " weights");
  double total = 0.0;
  for (const double w : weights) {
    TRIDENT_CHECK(w > 0.0, "blend weight ", w);
    total += w;
  }
  double sum = 0.0;
  for (const double w : weights) cumulative_.push_back((sum += w) / total);
  cumulative_.back() = 1.0;  // no rounding gap at the top
}

int BatchSource::dataset_of(int64_t sample) const {
  if (views_.size() == 1) return 0;
  const double u = blend_.uniform(uint64_t(sample));
  size_t d = 0;
  while (d + 1 < cumulative_.size() && u >= cumulative_[d]) ++d;
  return int(d);
}

void BatchSource::fill(int64_t first, int64_t count, Tensor& inputs, Tensor& targets) const {
  TRIDENT_CHECK(inputs.numel() == count * seq_len_ && targets.numel() == count * seq_len_, "batch buffers");
  int32_t* in = inputs.data<int32_t>();
  int32_t* tg = targets.data<int32_t>();
  for (int64_t s = 0; s < count; ++s) {
    const TokenView& tokens = views_[size_t(dataset_of(first + s))];
    const int64_t start = window_start(first + s);
    for (int64_t t = 0; t < seq_len_; ++t) {
      in[s * seq_len_ + t] = tokens.at(start + t);
      tg[s * seq_len_ + t] = tokens.at(start + t + 1);
    }
  }
}

SequentialBatches::SequentialBatches(TokenView tokens, int64_t seq_len)
    : SequentialBatches(std::vector<TokenView>{tokens}, {1.0}, seq_len, 0) {}

SequentialBatches::SequentialBatches(std::vector<TokenView> views, std::vector<double> weights, int64_t seq_len,
                                     uint64_t seed)
    : BatchSource(std::move(views), std::move(weights), seq_len, seed) {
  for (size_t d = 0; d < views_.size(); ++d)
    TRIDENT_CHECK(num_windows(int(d)) >= 1, "validation data of ", views_[d].size, " tokens for windows of ",
                  seq_len + 1);
}

int64_t SequentialBatches::window_start(int64_t sample) const {
  return sample % num_windows(dataset_of(sample)) * seq_len_;
}

}  // namespace trident::data
