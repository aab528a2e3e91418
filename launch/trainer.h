// Trainer: the training loop of one rank. Per iteration: this data-parallel
// rank's share of the global batch, micro-batch by micro-batch, forward and
// backward through this rank's pipeline stage(s) in the order of the
// pipeline schedule (gradients accumulate; each chunk's last backward
// starts the data-parallel bucket reductions), the tied token table's
// gradient summed between the first and last stage, then the overflow check (any
// non-finite gradient on any rank skips the step everywhere), unscaling,
// the global grad-norm clip, AdamW at the scheduled LR, the loss-scale
// update, and on rank 0 a metrics record and, every --log-interval, a log
// line.
#pragma once

#include <fstream>
#include <memory>

#include "framework/backend/backend.h"
#include "framework/data/sampler.h"
#include "framework/data/text_corpus.h"
#include "framework/dist/process_groups.h"
#include "framework/parallel/grad_buckets.h"
#include "framework/pipeline/executor.h"
#include "launch/divergence_guard.h"
#include "launch/fault_injection.h"
#include "launch/trace.h"
#include "launch/train_config.h"
#include "models/gpt/gpt_model.h"
#include "optim/adamw.h"
#include "optim/loss_scaler.h"

namespace trident::launch {

// Thrown on every rank when the divergence guard gives up: trident-train
// exits with status 3, every committed checkpoint intact.
class DivergenceGaveUp : public Error {
 public:
  using Error::Error;
};

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
  bool stop_requested = false;  // SIGTERM/SIGUSR1 reached some rank: save and stop
  int64_t data_batch = 0;   // the data batch trained on: iteration + batches skipped by rollbacks
};

class Trainer {
 public:
  // Checks cfg and this rank's inputs, then agrees with every other rank
  // that all of them are good before anything collective or anything on
  // disk happens: a UsageError reaches the caller on the first failing rank
  // only (dist::AgreementFailed on the others).
  Trainer(TrainConfig cfg, const dist::World& world);

  // Runs the iterations after the loaded one (if any) up to --train-iters,
  // saving as --save asks; returns the last iteration's stats.
  IterationStats train();
  // Saves a checkpoint of the state after `iteration` (collective).
  void save(int64_t iteration);
  int64_t start_iteration() const { return start_iteration_; }
  // One iteration (1-based): exposed for tests and benchmarks.
  IterationStats step(int64_t iteration);
  // Every parameter as one whole tensor (TP shards gathered; the vocabulary
  // padding dropped), identical on every rank: for tests and export.
  std::vector<std::pair<std::string, Tensor>> full_parameters();

  gpt::GptModel& model() { return *model_; }
  pipeline::Executor& executor() { return *executor_; }
  const pipeline::Schedule& pipeline_schedule() const { return pipeline_schedule_; }
  backend::Backend& backend() { return *backend_; }
  dist::ProcessGroups& groups() { return *groups_; }
  const TrainConfig& config() const { return cfg_; }

 private:
  void record(const IterationStats& s);
  // Restores the state from --load (collective; called by the constructor).
  int64_t load();  // returns the bytes this rank read
  // Restores model and (unless told otherwise) optimizer, data position and
  // iteration from a committed checkpoint directory; no communication.
  int64_t load_checkpoint(const std::string& dir, bool optimizer, bool data_position, bool restart_iterations);
  // The divergence guard's action for iteration `s`, decided on world rank 0
  // and broadcast; `target` gets the rollback checkpoint's iteration.
  enum class GuardAction : int32_t { none, developing, roll_back, no_target, give_up };
  GuardAction guard_action(const IterationStats& s, int64_t& target);
  // Rolls every rank back to the good checkpoint of iteration `target` after
  // divergence was detected at `detected`; returns `target`.
  int64_t roll_back(int64_t detected, int64_t target);
  void record_event(const nlohmann::json& event);
  bool tracing(int64_t iteration) const {
    return !cfg_.trace.empty() && iteration <= start_iteration_ + cfg_.trace_iterations;
  }
  nlohmann::json checkpoint_state(int64_t iteration) const;

  TrainConfig cfg_;
  const dist::World& world_;
  std::unique_ptr<backend::Backend> backend_;
  data::TextCorpus corpus_;
  std::unique_ptr<dist::ProcessGroups> groups_;
  std::unique_ptr<data::GlobalBatchSampler> sampler_;
  std::unique_ptr<gpt::GptModel> model_;
  std::unique_ptr<parallel::GradBuckets> buckets_;
  pipeline::Schedule pipeline_schedule_;  // every pipeline rank's actions (the simulator needs all of them)
  std::unique_ptr<pipeline::Executor> executor_;
  std::unique_ptr<optim::AdamW> optimizer_;
  std::unique_ptr<optim::LossScaler> scaler_;
  int64_t skipped_iterations_ = 0;
  int64_t start_iteration_ = 0;   // training continues after this one
  int64_t loaded_iteration_ = 0;  // the loaded checkpoint's (differs under --finetune)
  DivergenceGuard guard_;  // used on world rank 0
  FaultInjector faults_;
  Trace trace_;
  double peak_tflops_ = 0.0;     // per rank: --peak-tflops, or the GEMM peak measured at start
  int64_t nan_iterations_ = 0;   // iterations whose loss was not finite
  double interval_seconds_ = 0.0;  // since the last log line
  int64_t interval_iterations_ = 0;
  void log_memory(const char* when);
  int64_t data_offset_ = 0;   // data batches skipped by rollbacks so far
  double lr_scale_ = 1.0;     // product of --rollback-lr-scale over the rollbacks so far
  // Rollback targets: checkpoints this job saved while healthy, and the one it
  // loaded (restored with the flags it was loaded with).
  struct GoodCheckpoint {
    int64_t iteration;
    std::string dir;
    bool optimizer = true, data_position = true;
  };
  std::vector<GoodCheckpoint> good_checkpoints_;
  optim::LrSchedule schedule_;
  std::ofstream metrics_;
  int64_t fail_at_iteration_ = -1;  // test-only fault: TRIDENT_TEST_FAIL_AT="rank:iteration"
};

}  // namespace trident::launch
