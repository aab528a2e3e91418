// trident-train: trains a GPT on a text corpus. One process for now; the
// flags are Megatron-LM's (see --help).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "framework/core/log.h"
#include "launch/trainer.h"

int main(int argc, char** argv) {
  trident::launch::TrainConfig cfg;
  CLI::App app{"trident-train: train a GPT-2-style model"};
  trident::launch::add_train_flags(app, cfg);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "trident-train: error: %s (see trident-train --help)\n", e.what());
    return 2;
  }
  try {
    trident::init_logging(0, true);
    trident::launch::Trainer trainer(cfg);
    trainer.train();
  } catch (const trident::UsageError& e) {
    std::fprintf(stderr, "trident-train: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trident-train: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
