// Trainer: the training loop of one process. Per iteration: the global
// batch's micro-batches forward and backward (grads accumulate), global
// grad-norm clip, AdamW at the scheduled LR, then a metrics record and,
// every --log-interval, a log line.
#pragma once

#include <fstream>
#include <memory>

#include "framework/backend/backend.h"
#include "framework/data/sampler.h"
#include "framework/data/text_corpus.h"
#include "launch/train_config.h"
#include "models/gpt/gpt_model.h"
#include "optim/adamw.h"

namespace trident::launch {

struct IterationStats {
  int64_t iteration = 0;
  double loss = 0.0;      // mean over the global batch, nats per token
  double grad_norm = 0.0; // before clipping
  float lr = 0.f;
  double seconds = 0.0;
  double tokens_per_s = 0.0;
  double tflops = 0.0;    // model TFLOP/s
};

class Trainer {
 public:
  // Validates cfg and loads the data before anything is written.
  explicit Trainer(TrainConfig cfg);

  // Runs --train-iters iterations; returns the last iteration's stats.
  IterationStats train();
  // One iteration (1-based): exposed for tests and benchmarks.
  IterationStats step(int64_t iteration);

  gpt::GptModel& model() { return *model_; }
  backend::Backend& backend() { return *backend_; }
  const TrainConfig& config() const { return cfg_; }

 private:
  void record(const IterationStats& s);

  TrainConfig cfg_;
  std::unique_ptr<backend::Backend> backend_;
  data::TextCorpus corpus_;
  std::unique_ptr<data::GlobalBatchSampler> sampler_;
  std::unique_ptr<gpt::GptModel> model_;
  std::unique_ptr<optim::AdamW> optimizer_;
  optim::LrSchedule schedule_;
  std::ofstream metrics_;
};

}  // namespace trident::launch
