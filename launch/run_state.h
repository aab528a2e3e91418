// RunState: where a training run stands beyond its weights and optimizer —
// what a checkpoint stores besides tensors, what a rollback rewinds, and
// what the step needs to find its data batch and learning rate.
#pragma once

#include <cstdint>

namespace trident::launch {

struct RunState {
  int64_t iteration = 0;           // the last finished iteration; training continues after it
  int64_t loaded_iteration = 0;    // the loaded checkpoint's (differs under --finetune)
  int64_t skipped_iterations = 0;  // steps skipped for a non-finite gradient
  int64_t data_offset = 0;         // data batches skipped by rollbacks so far
  double lr_scale = 1.0;           // product of --rollback-lr-scale over the rollbacks so far
  uint64_t data_seed = 0;          // the training sampler's seed: --seed, or the checkpoint's

  // The data batch iteration `it` trains on: rollbacks skip ahead in the data, never back.
  int64_t data_batch(int64_t it) const { return it + data_offset; }
};

}  // namespace trident::launch
