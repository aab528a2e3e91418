#include "optim/loss_scaler.h"

#include <algorithm>

#include "framework/core/error.h"

namespace trident::optim {

LossScaler::LossScaler(LossScalerConfig cfg) : cfg_(cfg) {
  TRIDENT_USAGE_CHECK(!cfg.dynamic || cfg.initial_scale > 0.0, "--initial-loss-scale must be positive");
  TRIDENT_USAGE_CHECK(cfg.dynamic || cfg.static_scale > 0.0, "--loss-scale must be positive");
  TRIDENT_USAGE_CHECK(cfg.min_scale > 0.0, "--min-loss-scale must be positive");
  TRIDENT_USAGE_CHECK(cfg.window > 0, "--loss-scale-window must be positive");
  TRIDENT_USAGE_CHECK(cfg.hysteresis > 0, "--hysteresis must be positive");
  state_.scale = cfg.dynamic ? cfg.initial_scale : cfg.static_scale;
  state_.hysteresis_tracker = cfg.hysteresis;
}

void LossScaler::update(bool found_non_finite) {
  if (!cfg_.dynamic) return;
  if (found_non_finite) {
    state_.growth_tracker = 0;
    state_.hysteresis_tracker -= 1;
    if (state_.hysteresis_tracker <= 0) state_.scale = std::max(state_.scale * 0.5, cfg_.min_scale);
    return;
  }
  state_.growth_tracker += 1;
  if (state_.growth_tracker == cfg_.window) {
    state_.growth_tracker = 0;
    state_.hysteresis_tracker = cfg_.hysteresis;
    state_.scale *= 2.0;
  }
}

}  // namespace trident::optim
