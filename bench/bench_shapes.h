// The model the benchmarks default to (the issues' reference shape):
// 4 layers, hidden 256, 4 heads, seq 256, vocab 256. Flags override it.
#pragma once

#include "launch/train_config.h"

namespace trident::bench {

inline void set_reference_shape(launch::TrainConfig& cfg, int64_t micro_batch, int64_t global_batch) {
  cfg.model.num_layers = 4;
  cfg.model.hidden_size = 256;
  cfg.model.num_attention_heads = 4;
  cfg.model.seq_length = 256;
  cfg.micro_batch_size = micro_batch;
  cfg.global_batch_size = global_batch;
}

}  // namespace trident::bench
