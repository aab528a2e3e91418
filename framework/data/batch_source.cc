#include "framework/data/batch_source.h"

#include "framework/core/error.h"

namespace trident::data {

BatchSource::BatchSource(TokenView tokens, int64_t seq_len) : tokens_(tokens), seq_len_(seq_len) {}

void BatchSource::fill(int64_t first, int64_t count, Tensor& inputs, Tensor& targets) const {
  TRIDENT_CHECK(inputs.numel() == count * seq_len_ && targets.numel() == count * seq_len_, "batch buffers");
  int32_t* in = inputs.data<int32_t>();
  int32_t* tg = targets.data<int32_t>();
  for (int64_t s = 0; s < count; ++s) {
    const int64_t start = window_start(first + s);
    for (int64_t t = 0; t < seq_len_; ++t) {
      in[s * seq_len_ + t] = tokens_.at(start + t);
      tg[s * seq_len_ + t] = tokens_.at(start + t + 1);
    }
  }
}

SequentialBatches::SequentialBatches(TokenView tokens, int64_t seq_len)
    : BatchSource(tokens, seq_len), windows_((tokens.size - 1) / seq_len) {
  TRIDENT_CHECK(windows_ >= 1, "validation data of ", tokens.size, " tokens for windows of ", seq_len + 1);
}

int64_t SequentialBatches::window_start(int64_t sample) const {
  return sample % windows_ * seq_len_;
}

}  // namespace trident::data
