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
  // Training samples consumed so far (trained on, or passed over by a
  // rollback): the next iteration starts at this global sample, whatever
  // its global batch (Megatron's consumed_train_samples).
  int64_t consumed_samples = 0;
  int64_t sampler_batch = 0;       // the global batch the run started with: keys the sampler (sampler.h)
  double lr_scale = 1.0;           // product of --rollback-lr-scale over the rollbacks so far
  uint64_t data_seed = 0;          // the training sampler's seed: --seed, or the checkpoint's
};

}  // namespace trident::launch
