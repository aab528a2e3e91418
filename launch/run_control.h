// RunControl: what happens to the run after each iteration — the
// divergence guard's verdict (world rank 0 decides, every rank acts), the
// in-process rollback to a good checkpoint, and the checkpoints that may
// serve as rollback targets.
//
// Rollback target: the newest checkpoint this job saved (or loaded) from
// before the anomaly. The loss of iteration a is computed with the weights
// of step a − 1, so when a is the first anomalous iteration the checkpoint
// of a − 1 already holds the step that did the damage (measured: a 1000x
// learning-rate step at 40 shows first in the loss of 41); the target is
// the newest checkpoint of an iteration ≤ a − 2. The trainer also saves
// nothing while an anomaly is developing. A NaN at iteration 30 with saves
// every 10 therefore goes back to 20: the save due at 30 is skipped, and 29
// is the newest iteration a checkpoint could have.
#pragma once

#include <string>
#include <vector>

#include "framework/core/error.h"
#include "launch/divergence_guard.h"
#include "launch/reporter.h"
#include "launch/training_checkpoint.h"

namespace trident::launch {

// Thrown on every rank when the divergence guard gives up: trident-train
// exits with status 3, every committed checkpoint intact.
class DivergenceGaveUp : public Error {
 public:
  using Error::Error;
};

class RunControl {
 public:
  RunControl(const TrainingParts& parts, TrainingCheckpoint& checkpoint, Reporter& reporter)
      : parts_(parts), checkpoint_(checkpoint), reporter_(reporter), guard_(parts.cfg.guard) {}

  // A committed checkpoint of a healthy model, restored with these options if rolled back to.
  void good_checkpoint(int64_t iteration, const std::string& dir, TrainingCheckpoint::Restore restore = {});

  enum class Verdict { healthy, developing, rolled_back, no_target };
  // The guard's verdict on iteration `s` (collective). On rolled_back, `state`
  // is the target checkpoint's, ready to go on after state.iteration. Throws
  // DivergenceGaveUp after too many rollbacks.
  Verdict after_iteration(const IterationStats& s, bool loss_scale_at_floor, RunState& state);

 private:
  enum class Action : int32_t { none, developing, roll_back, no_target, give_up };
  // Decided on world rank 0 and broadcast; `target` gets the rollback checkpoint's iteration.
  Action decide(const IterationStats& s, bool loss_scale_at_floor, int64_t& target);
  void give_up(const IterationStats& s);
  void roll_back(int64_t detected, int64_t target, RunState& state);

  struct GoodCheckpoint {
    int64_t iteration;
    std::string dir;
    TrainingCheckpoint::Restore restore;
  };
  const TrainingParts& parts_;
  TrainingCheckpoint& checkpoint_;
  Reporter& reporter_;
  DivergenceGuard guard_;  // used on world rank 0
  std::vector<GoodCheckpoint> good_;
};

}  // namespace trident::launch
