// Evaluator: the validation loss — --eval-iters global batches of held-out
// data (the validation share of --split, or --valid-data-path), read in
// order (data::SequentialBatches), forward only through the pipeline
// (pipeline::forward_only_schedule) in every layout, in the compute
// precision. It reads the weights and nothing else of the training state:
// no gradient, optimizer moment, sampler or loss scale changes, so a run
// with evaluations trains bitwise as one without.
#pragma once

#include <memory>

#include "framework/data/batch_source.h"
#include "framework/pipeline/executor.h"
#include "launch/training_setup.h"

namespace trident::launch {

class Evaluator {
 public:
  // Needs validation data (set-up has checked that there is some).
  explicit Evaluator(TrainingParts& parts);

  // Mean loss per token over the evaluation batches (collective; every rank returns it).
  double evaluate();

 private:
  TrainingParts& parts_;
  data::SequentialBatches batches_;
  std::unique_ptr<pipeline::Executor> executor_;
};

}  // namespace trident::launch
