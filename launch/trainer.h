// Trainer: the training loop of one rank, a short sequence over parts with
// one job each —
//   set-up        training_setup.h      flags checked, data, backend, process groups, model
//   step          train_step.h          forward/backward by the pipeline schedule, gradient sync, AdamW
//   checkpoints   training_checkpoint.h save and restore, any layout
//   run control   run_control.h         divergence guard and rollback (stop signals travel with the step)
//   evaluation    evaluator.h           validation loss, forward only
//   reporting     reporter.h            log lines, metrics records, progress bar, memory
//   export        export.h              whole tensors, safetensors
// and the run's position (run_state.h) passed between them.
#pragma once

#include <chrono>
#include <memory>

#include "launch/evaluator.h"
#include "launch/reporter.h"
#include "launch/run_control.h"
#include "launch/run_state.h"
#include "launch/trace.h"
#include "launch/train_step.h"
#include "launch/training_checkpoint.h"
#include "launch/training_setup.h"

namespace trident::launch {

class Trainer {
 public:
  // Set-up, then --load if given: any rank's bad input stops every rank
  // before anything collective or on disk (a UsageError on the first failing
  // rank, dist::AgreementFailed on the others).
  Trainer(TrainConfig cfg, const dist::World& world);

  // The iterations after the loaded one up to --train-iters, with saves and
  // evaluations as the flags ask, then the final evaluation and the export;
  // with --skip-train only the evaluation (and export). Returns the last
  // iteration's stats.
  IterationStats train();
  // One iteration, no run control: for tests and benchmarks.
  IterationStats step(int64_t iteration);
  // The validation loss of the current weights, logged and recorded (collective).
  double evaluate();
  // Saves the state after the last finished iteration (collective).
  void save();

  TrainingParts& parts() { return parts_; }
  const TrainConfig& config() const { return parts_.cfg; }
  const TrainStep& train_step() const { return step_; }
  const RunState& state() const { return state_; }

 private:
  void load();  // --load, agreed on by every rank
  // Saves at --save-interval, at the end and on a stop, unless the loss is unhealthy.
  bool save_if_due(const IterationStats& s, RunControl::Verdict verdict);
  void finish();  // trace and export

  std::chrono::steady_clock::time_point started_;  // for --exit-duration-in-mins
  TrainingParts parts_;
  RunState state_;
  TrainStep step_;
  TrainingCheckpoint checkpoint_;
  Reporter reporter_;
  RunControl control_;
  std::unique_ptr<Evaluator> evaluator_;  // when --eval-interval or --skip-train asks for one
  Trace trace_;
  int64_t trace_until_ = 0;  // iterations up to this one are traced
};

}  // namespace trident::launch
