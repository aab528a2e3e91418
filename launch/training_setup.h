// Set-up: checks a run's flags and inputs on every rank, agrees that all
// ranks are good before anything collective or anything on disk happens,
// then builds the parts every later piece of the trainer borrows.
#pragma once

#include <memory>
#include <optional>

#include "framework/backend/backend.h"
#include "framework/data/text_corpus.h"
#include "framework/dist/process_groups.h"
#include "framework/dist/world.h"
#include "launch/train_config.h"
#include "models/gpt/gpt_model.h"

namespace trident::launch {

struct TrainingParts {
  TrainConfig cfg;  // validated and resolved
  const dist::World* world = nullptr;
  std::unique_ptr<backend::Backend> backend;
  data::TextCorpus corpus;                     // training data (and its validation share)
  std::optional<data::TextCorpus> valid_data;  // --valid-data-path
  std::unique_ptr<dist::ProcessGroups> groups;
  std::unique_ptr<gpt::GptModel> model;        // this rank's chunks, initialised from --seed

  // What evaluation reads: --valid-data-path, else the validation share of --split.
  data::TokenView validation_tokens() const {
    return valid_data ? valid_data->tokens() : corpus.valid_tokens();
  }
};

// A UsageError reaches the caller on the first failing rank only
// (dist::AgreementFailed on the others).
TrainingParts set_up_training(TrainConfig cfg, const dist::World& world);

}  // namespace trident::launch
