// trident-train: trains a GPT on a text corpus, in one process or under
// mpirun/srun with tensor and data parallelism. Flags are Megatron-LM's
// (see --help).
//
// Errors: bad input is reported in one line by the first rank that found it
// (exit 2, nothing written); a failure during training prints that rank's
// message and aborts the whole job (MPI_Abort), so no rank hangs.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string_view>

#include "framework/core/log.h"
#include "framework/dist/agreement.h"
#include "framework/dist/world.h"
#include "launch/trainer.h"

int main(int argc, char** argv) {
  using trident::dist::World;
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
    // Every rank sees the same flags; one line is enough.
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    if (!rank) rank = std::getenv("PMI_RANK");
    if (!rank) rank = std::getenv("SLURM_PROCID");
    if (!rank || std::atoi(rank) == 0)
      std::fprintf(stderr, "trident-train: error: %s (see trident-train --help)\n", e.what());
    return 2;
  }
  const World& world = World::init(&argc, &argv);
  trident::init_logging(world.rank, world.rank == 0);
  // trident::Error messages carry their rank already; other exceptions get it here.
  auto with_rank = [&](const char* what) {
    const bool tagged = std::string_view(what).starts_with("[rank ");
    return std::string("trident-train: error: ") + (tagged || world.size == 1 ? "" : "[rank " + std::to_string(world.rank) + "] ") + what;
  };
  std::unique_ptr<trident::launch::Trainer> trainer;
  try {
    // Every rank returns from here together: failures are agreed on first.
    trainer = std::make_unique<trident::launch::Trainer>(cfg, world);
  } catch (const trident::dist::AgreementFailed&) {
    World::finalize();  // the failing rank says why
    return 2;
  } catch (const trident::UsageError& e) {
    std::fprintf(stderr, "trident-train: error: %s\n", e.what());
    World::finalize();
    return 2;
  } catch (const std::exception& e) {
    World::abort(with_rank(e.what()), 1);
  }
  try {
    trainer->train();
  } catch (const std::exception& e) {
    // Other ranks may be waiting in a collective: bring the whole job down.
    World::abort(with_rank(e.what()), 1);
  }
  trainer.reset();  // frees its communicators before MPI ends
  World::finalize();
  return 0;
}
