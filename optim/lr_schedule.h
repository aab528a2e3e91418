// Learning-rate schedule: linear warm-up from 0 to `lr` over `warmup_iters`,
// then decay to `min_lr` at `decay_iters` (cosine, linear or constant), as
// Megatron-LM's OptimizerParamScheduler does; flat at min_lr afterwards.
#pragma once

#include <cstdint>
#include <string>

namespace trident::optim {

enum class DecayStyle { constant, linear, cosine };
DecayStyle decay_style_from_name(const std::string& name);  // UsageError on unknown

struct LrSchedule {
  float lr = 3e-4f;
  float min_lr = 0.f;
  int64_t warmup_iters = 0;
  int64_t decay_iters = 0;  // the iteration at which min_lr is reached
  DecayStyle style = DecayStyle::cosine;

  // LR for 1-based iteration `iteration`.
  float at(int64_t iteration) const;
};

}  // namespace trident::optim
