// TrainStep: one training iteration of this rank. This data-parallel rank's
// share of the global batch, micro-batch by micro-batch, forward and
// backward through this rank's pipeline chunk(s) in the order of the
// pipeline schedule (gradients accumulate; each chunk's last backward starts
// the data-parallel bucket reductions), the tied token table's gradient
// summed between the first and last stage, then the overflow check (any
// non-finite gradient on any rank skips the step everywhere; a stop signal
// on any rank travels with it), unscaling, the global grad-norm clip, AdamW
// at the scheduled LR, and the loss-scale update. Owns the optimizer state.
#pragma once

#include <memory>

#include "framework/parallel/grad_buckets.h"
#include "framework/pipeline/executor.h"
#include "launch/fault_injection.h"
#include "launch/run_state.h"
#include "launch/trace.h"
#include "launch/training_setup.h"
#include "optim/adamw.h"
#include "optim/loss_scaler.h"

namespace trident::launch {

// Why the run stops after this iteration; decided together by every rank.
enum class StopReason : int32_t { none = 0, exit_interval, time_limit, signal };
const char* stop_reason_text(StopReason reason);

struct IterationStats {
  int64_t iteration = 0;
  double loss = 0.0;      // mean over the global batch, nats per token
  double grad_norm = 0.0; // before clipping
  float lr = 0.f;
  double seconds = 0.0;
  double tokens_per_s = 0.0;
  double tflops = 0.0;    // model TFLOP/s of the whole job
  double loss_scale = 1.0;  // the scale this step's backward used
  bool skipped = false;     // a non-finite gradient somewhere: no update
  StopReason stop = StopReason::none;  // save and stop after this iteration, and why
  bool stop_requested() const { return stop != StopReason::none; }
  int64_t data_batch = 0;   // first sample / global batch + 1: iteration + batches skipped, at a constant batch
};

class TrainStep {
 public:
  explicit TrainStep(TrainingParts& parts);

  // Iteration `iteration` (1-based) on the global batch of samples from
  // state.consumed_samples, which it advances; counts a skipped step in `state`. `trace`: record spans (null: don't).
  // `time_up`: this rank's clock says --exit-duration-in-mins has passed.
  IterationStats run(int64_t iteration, RunState& state, Trace* trace, bool time_up = false);

  optim::AdamW& optimizer() { return *optimizer_; }
  optim::LossScaler& scaler() { return *scaler_; }
  const pipeline::Executor& executor() const { return *executor_; }
  const pipeline::Schedule& schedule() const { return schedule_; }  // every pipeline rank's actions
  size_t num_buckets() const { return buckets_->num_buckets(); }
  const parallel::GradBuckets& buckets() const { return *buckets_; }
  bool distributed_optimizer() const { return buckets_->sharded(); }
  // Distributed optimizer: each rank's updated rows to every rank (after a step or a restore).
  void gather_parameters() { buckets_->gather_parameters(); }

 private:
  // Forward and backward of every micro-batch, then the gradient reductions; returns the loss sum.
  double forward_backward(const RunState& state, float loss_scale, Trace* trace);
  // Whether some rank's gradients are not finite, and the strongest reason any rank has to stop.
  std::pair<bool, StopReason> found_inf_or_stop(const std::vector<double>& grad_sums, bool time_up);
  void update(IterationStats& s, const std::vector<double>& grad_sums, float loss_scale, Trace* trace);
  // The tied token table on a pipeline of more than one stage (else null):
  // its two halves are summed over the embedding group before its DP reduction.
  Param* tied_table();
  // The gradients the optimizer steps (this rank's rows with the distributed optimizer), and their parameters.
  std::vector<Tensor> owned_grads() const;

  TrainingParts& parts_;
  std::unique_ptr<parallel::GradBuckets> buckets_;
  pipeline::Schedule schedule_;
  std::unique_ptr<pipeline::Executor> executor_;
  std::unique_ptr<optim::AdamW> optimizer_;
  std::unique_ptr<optim::LossScaler> scaler_;
  optim::LrSchedule lr_;
  FaultInjector faults_;  // --inject-fault: a NaN gradient or an LR spike, at their place in the step
};

}  // namespace trident::launch
