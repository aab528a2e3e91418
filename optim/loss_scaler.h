// Loss scaling for FP16 training with Megatron-LM's semantics (REFERENCE.md):
// the loss is multiplied by `scale` before backward so that small gradients
// survive FP16; gradients are divided by it before clipping. A static
// scaler never changes. The dynamic one, on a step whose gradients hold a
// non-finite value anywhere: growth counter := 0, hysteresis counter −= 1,
// and when that reaches ≤ 0, scale := max(scale · 0.5, min_scale). On a
// clean step: growth counter += 1; at `window` it resets, the hysteresis
// counter refills and the scale doubles. BF16 needs no scaler.
//
// The state (scale, growth counter, hysteresis counter) is one object so a
// checkpoint can save and restore it.
#pragma once

#include <cstdint>

namespace trident::optim {

struct LossScalerConfig {
  bool dynamic = true;
  double static_scale = 1.0;          // --loss-scale, when not dynamic
  double initial_scale = 4294967296.0;  // --initial-loss-scale, 2^32
  double min_scale = 1.0;             // --min-loss-scale
  int64_t window = 1000;              // --loss-scale-window
  int64_t hysteresis = 2;             // --hysteresis
};

struct LossScalerState {
  double scale = 1.0;
  int64_t growth_tracker = 0;
  int64_t hysteresis_tracker = 0;
  bool operator==(const LossScalerState&) const = default;
};

class LossScaler {
 public:
  explicit LossScaler(LossScalerConfig cfg);

  double scale() const { return state_.scale; }
  // After each step's (world-wide) overflow check.
  void update(bool found_non_finite);

  const LossScalerState& state() const { return state_; }
  void restore(const LossScalerState& s) { state_ = s; }

 private:
  LossScalerConfig cfg_;
  LossScalerState state_;
};

}  // namespace trident::optim
