// Set-up: checks a run's flags and inputs on every rank, agrees that all
// ranks are good before anything collective or anything on disk happens,
// then builds the parts every later piece of the trainer borrows.
#pragma once

#include <memory>
#include <optional>

#include "framework/backend/backend.h"
#include "framework/data/text_corpus.h"
#include "framework/data/tokenizer.h"
#include "framework/dist/process_groups.h"
#include "framework/dist/world.h"
#include "launch/train_config.h"
#include "models/gpt/gpt_model.h"

namespace trident::launch {

struct TrainingParts {
  TrainConfig cfg;  // validated and resolved
  const dist::World* world = nullptr;
  std::unique_ptr<backend::Backend> backend;
  std::vector<data::TextCorpus> corpora;      // training data (and validation shares): one per --data-path
  std::vector<double> weights;                 // of each in the blend (1 for one)
  std::optional<data::TextCorpus> valid_data;  // --valid-data-path
  std::unique_ptr<data::Tokenizer> tokenizer;  // --tokenizer-type: how text becomes tokens

  // Text is read through a tokenizer other than bytes (into the token cache, token_cache.h).
  bool tokenizes_text() const { return cfg.tokenizer_type != "ByteTokenizer"; }
  std::unique_ptr<dist::ProcessGroups> groups;
  std::unique_ptr<gpt::GptModel> model;        // this rank's chunks, initialised from --seed

  bool indexed() const { return corpora.front().indexed(); }  // token ids (else bytes of text)
  std::vector<data::TokenView> train_views() const;
  // What evaluation reads: --valid-data-path, else the validation shares of --split.
  std::vector<data::TokenView> validation_views() const;
  std::vector<double> validation_weights() const;
};

// A UsageError reaches the caller on the first failing rank only
// (dist::AgreementFailed on the others).
TrainingParts set_up_training(TrainConfig cfg, const dist::World& world);

}  // namespace trident::launch
