#include "optim/lr_schedule.h"

#include <cmath>

#include "framework/core/error.h"

namespace trident::optim {

DecayStyle decay_style_from_name(const std::string& name) {
  if (name == "constant") return DecayStyle::constant;
  if (name == "linear") return DecayStyle::linear;
  if (name == "cosine") return DecayStyle::cosine;
  throw UsageError("unknown --lr-decay-style '" + name + "': use constant, linear or cosine");
}

float LrSchedule::at(int64_t iteration) const {
  if (warmup_iters > 0 && iteration <= warmup_iters) return lr * float(iteration) / float(warmup_iters);
  if (style == DecayStyle::constant) return lr;
  if (iteration >= decay_iters) return min_lr;
  const double progress = double(iteration - warmup_iters) / double(decay_iters - warmup_iters);
  const double coeff = style == DecayStyle::linear ? 1.0 - progress : 0.5 * (1.0 + std::cos(M_PI * progress));
  return float(double(min_lr) + coeff * double(lr - min_lr));
}

}  // namespace trident::optim
