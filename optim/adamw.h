// AdamW over a list of Params (the optimizer sees parameters, never a
// model): β1 0.9, β2 0.95, ε 1e-8 by default; weight decay only on
// parameters whose `weight_decay` flag is set (not biases, not norms).
// Parameters computed in bf16/f16 get FP32 master weights here: the update
// runs on the master copy, which is then rounded into the compute weights.
#pragma once

#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/param.h"

namespace trident::optim {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;
};

class AdamW {
 public:
  AdamW(std::vector<Param*> params, AdamWConfig cfg);

  // One update of every parameter from its main grad · grad_scale at
  // learning rate `lr` (grad_scale: GradClip::coeff; the grads are not modified).
  void step(backend::Backend& be, float lr, float grad_scale = 1.f);
  int64_t steps_taken() const { return step_; }

  // Checkpoint access, per parameter in constructor order: the FP32 master
  // weights (the parameter's value itself when it is f32) and the two
  // moments, all f32 and shaped like the parameter's local slice.
  const Tensor& master_weights(size_t i) const { return master_[i].defined() ? master_[i] : params_[i]->value; }
  Tensor& exp_avg(size_t i) { return m_[i]; }
  Tensor& exp_avg_sq(size_t i) { return v_[i]; }
  // Restores parameter i from FP32 master weights (the compute weights are
  // their rounding, as after a step), and the step count.
  void load_master_weights(size_t i, const Tensor& master);
  void set_steps_taken(int64_t steps) { step_ = steps; }

 private:
  std::vector<Param*> params_;
  AdamWConfig cfg_;
  std::vector<Tensor> m_, v_;  // f32 moments, one pair per param
  std::vector<Tensor> master_;  // f32 master weights of 16-bit params (undefined for f32 ones)
  int64_t step_ = 0;
};

}  // namespace trident::optim
