// AdamW over a list of Params (the optimizer sees parameters, never a
// model): β1 0.9, β2 0.95, ε 1e-8 by default; weight decay only on
// parameters whose `weight_decay` flag is set (not biases, not norms).
// Parameters computed in bf16/f16 get FP32 master weights here: the update
// runs on the master copy, which is then rounded into the compute weights.
//
// It steps shards: rows of parameters with their summed gradients (every
// parameter whole, or with the distributed optimizer this data-parallel
// rank's rows: parallel::GradBuckets::owned()), and keeps state for those
// rows only — which is all the distributed optimizer's memory saving.
#pragma once

#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/param.h"
#include "framework/parallel/grad_buckets.h"

namespace trident::optim {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;
};

class AdamW {
 public:
  // Every parameter whole, its gradient p->grad.
  AdamW(const std::vector<Param*>& params, AdamWConfig cfg);
  AdamW(std::vector<parallel::OwnedShard> shards, AdamWConfig cfg);

  // One update of every parameter from its main grad · grad_scale at
  // learning rate `lr` (grad_scale: GradClip::coeff; the grads are not modified).
  void step(backend::Backend& be, float lr, float grad_scale = 1.f);
  int64_t steps_taken() const { return step_; }

  // Checkpoint access, per shard in constructor order: which rows of which
  // parameter, the FP32 master weights (the value's rows themselves when
  // f32) and the two moments, all f32 and shaped like those rows.
  size_t num_shards() const { return shards_.size(); }
  const parallel::OwnedShard& shard(size_t i) const { return shards_[i]; }
  const Tensor& master_weights(size_t i) const { return master_[i].defined() ? master_[i] : values_[i]; }
  Tensor& exp_avg(size_t i) { return m_[i]; }
  Tensor& exp_avg_sq(size_t i) { return v_[i]; }
  // Restores shard i from FP32 master weights (the compute weights are
  // their rounding, as after a step), and the step count.
  void load_master_weights(size_t i, const Tensor& master);
  void set_steps_taken(int64_t steps) { step_ = steps; }

 private:
  std::vector<parallel::OwnedShard> shards_;
  std::vector<Tensor> values_;  // each shard's rows of its parameter's value (views)
  AdamWConfig cfg_;
  std::vector<Tensor> m_, v_;  // f32 moments, one pair per shard
  std::vector<Tensor> master_;  // f32 master weights of 16-bit shards (undefined for f32 ones)
  int64_t step_ = 0;
};

}  // namespace trident::optim
