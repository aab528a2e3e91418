// The divergence guard's detector (pure, no communication: the trainer runs
// it on world rank 0 and broadcasts the verdict, so every rank acts alike).
//
// An iteration is anomalous when
//  - its loss or grad norm is not finite (a skipped step) — under fp16 only
//    once the loss scaler sits at its minimum or has skipped
//    `max_consecutive_skips` steps in a row after a clean one (before that,
//    skipping is the scaler's ordinary work, as while it comes down from
//    its initial 2^32);
//  - or its loss exceeds both mean + threshold·std and 1.05 × median of the
//    last `window` healthy iterations (and at least min(window, 20) of them
//    are known: early training falls too fast to judge).
// A non-finite iteration diverges at once; a spike after `patience`
// anomalous iterations in a row. Anomalous iterations never enter the
// healthy window.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace trident::launch {

struct DivergenceGuardConfig {
  int64_t window = 50;          // --spike-window
  double threshold = 4.0;       // --spike-threshold (standard deviations)
  int64_t patience = 3;         // --spike-patience
  int64_t max_consecutive_skips = 10;  // --max-consecutive-skips (fp16)
  int64_t max_rollbacks = 3;    // --max-rollbacks
  int64_t rollback_window = 1000;  // --rollback-window: iterations over which rollbacks are counted
};

struct IterationHealth {
  int64_t iteration = 0;
  double loss = 0.0;
  double grad_norm = 0.0;  // NaN when the step was skipped
  bool skipped = false;
  bool fp16 = false;
  bool scale_at_minimum = false;  // fp16: the loss scaler cannot go lower
};

class DivergenceGuard {
 public:
  enum class Verdict { healthy, developing, diverged };
  explicit DivergenceGuard(DivergenceGuardConfig cfg) : cfg_(cfg) {}

  Verdict observe(const IterationHealth& h);
  // Of the last `diverged` verdict: why, and the first iteration of the
  // anomaly (a checkpoint saved at or after it is no rollback target).
  const std::string& reason() const { return reason_; }
  int64_t first_anomalous_iteration() const { return first_anomalous_; }
  bool anomaly_developing() const { return anomalous_run_ > 0; }

  // After a rollback to iteration `to` (the detection at `detected`):
  // iterations after `to` will run again, so they leave the window.
  void rolled_back(int64_t detected, int64_t to);
  // Whether one more rollback for a detection at `iteration` would exceed
  // max_rollbacks within rollback_window iterations.
  bool exhausted(int64_t iteration) const;
  // After a divergence nothing could be done about (no checkpoint): watch
  // afresh, without counting a rollback.
  void reset_watch() {
    anomalous_run_ = 0;
    consecutive_skips_ = 0;
  }
  size_t rollbacks() const { return rollbacks_.size(); }

 private:
  DivergenceGuardConfig cfg_;
  std::deque<std::pair<int64_t, double>> healthy_;  // (iteration, loss), oldest first
  int64_t anomalous_run_ = 0, consecutive_skips_ = 0, first_anomalous_ = -1;
  bool seen_clean_step_ = false;
  std::string reason_;
  std::vector<int64_t> rollbacks_;  // detection iterations
};

}  // namespace trident::launch
