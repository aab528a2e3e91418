// trident-train: trains a GPT on a text corpus, in one process or under
// mpirun/srun with tensor, pipeline and data parallelism. Flags are Megatron-LM's
// (see --help).
//
// Exit status: 0 done (or stopped by SIGTERM/SIGUSR1 after saving); 1 a
// failure during training (that rank's message; the whole job is brought
// down, so no rank hangs); 2 bad input, reported in one line by the first
// rank that found it before anything was written; 3 the divergence guard
// gave up after --max-rollbacks rollbacks.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string_view>

#include "framework/core/log.h"
#include "framework/dist/agreement.h"
#include "framework/dist/world.h"
#include "framework/pipeline/simulator.h"
#include "launch/config_file.h"
#include "launch/stop_signal.h"
#include "launch/train_flags.h"
#include "launch/trainer.h"

namespace {

// This process's rank from the launcher's environment, before MPI starts
// (0 when not launched by mpirun or srun).
int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* rank = std::getenv(name)) return std::atoi(rank);
  return 0;
}

// --print-schedule: every pipeline rank's timeline under the chosen
// schedule, from the simulator (forward 1, backward 2 per stage, transfers
// free), without starting a job: one process stands for tp·pp·dp.
int print_pipeline_schedule(trident::launch::TrainConfig cfg) {
  namespace pipeline = trident::pipeline;
  try {
    const int dp = cfg.data_parallel_size > 0 ? cfg.data_parallel_size : 1;
    cfg.device = "cpu";  // nothing runs: device limits must not hide the schedule
    cfg.validate_and_resolve(cfg.tensor_model_parallel_size * cfg.pipeline_model_parallel_size * dp);
    const pipeline::ScheduleShape shape = cfg.schedule_shape(dp);
    const double p = shape.stages, m = shape.micro_batches, v = shape.chunks;
    const pipeline::Simulation sim =
        pipeline::simulate(pipeline::make_schedule(cfg.schedule_kind(), shape), shape, {1.0 / v, 2.0 / v, 0.0});
    std::printf("%s schedule: %d pipeline rank(s) x %d chunk(s), %d micro-batches per iteration and DP rank\n",
                cfg.pipeline_schedule.c_str(), shape.stages, shape.chunks, shape.micro_batches);
    std::printf("one cell = a forward through one chunk (1/%d of a rank's layers); a backward takes two\n\n",
                shape.chunks);
    std::printf("%s\n", pipeline::format_timeline(sim, shape, 1.0 / v).c_str());
    const double textbook = cfg.schedule_kind() == pipeline::ScheduleKind::interleaved
                                ? ((p - 1) / v) / (m + (p - 1) / v) : (p - 1) / (m + p - 1);
    std::printf("bubble %.1f%% of the iteration (textbook %.1f%%); activation sets held at most:", 
                100.0 * sim.bubble_fraction(), 100.0 * textbook);
    for (size_t r = 0; r < sim.peak_live.size(); ++r) std::printf(" rank %zu: %d%s", r, sim.peak_live[r],
                                                                  r + 1 < sim.peak_live.size() ? "," : "\n");
    return 0;
  } catch (const trident::UsageError& e) {
    std::fprintf(stderr, "trident-train: error: %s\n", e.what());
    return 2;
  }
}

// Parses the command line (and --config) into `cfg`; an exit status when
// the program is done already (help, the flag reference, a bad flag).
std::optional<int> parse_flags(int argc, char** argv, trident::launch::TrainConfig& cfg) {
  CLI::App app{"trident-train: train a GPT-2-style model"};
  trident::launch::add_train_flags(app, cfg);
  std::string config_file;
  app.add_option("--config", config_file, "JSON file of flag names and values; command-line flags override it")
      ->group("configuration");
  bool flag_reference = false;
  app.add_flag("--print-flag-reference", flag_reference, "print docs/flags.md (every flag, as Markdown) and exit")
      ->group("");  // hidden: a tool for the docs
  const bool speaks = launcher_rank() == 0;  // every rank sees the same flags; one line is enough
  try {
    // --config FILE becomes flags placed before the command line's (the last value of a flag wins).
    std::vector<std::string> args = trident::launch::expand_config_file(app, std::vector<std::string>(argv + 1, argv + argc));
    std::reverse(args.begin(), args.end());  // CLI11 takes a vector last-first
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    // The first unknown flag: a Megatron-LM flag trident lacks (say so), else a typo (name the nearest known one).
    std::string first;
    for (int i = 1; i < argc && first.empty(); ++i)
      if (std::string_view(argv[i]).starts_with("--") && !app.get_option_no_throw(std::string(argv[i]).substr(0, std::string(argv[i]).find('='))))
        first = argv[i];
    const std::optional<std::string> missing =
        first.empty() ? std::nullopt : trident::launch::missing_megatron_flag_message(first);
    if (speaks && missing)
      std::fprintf(stderr, "trident-train: error: %s\n", missing->c_str());
    else if (speaks)
      std::fprintf(stderr, "trident-train: error: %s%s (see trident-train --help)\n", e.what(),
                   first.empty() ? "" : (": did you mean " + trident::launch::nearest_flag(app, first) + "?").c_str());
    return 2;
  } catch (const CLI::ParseError& e) {
    if (speaks) std::fprintf(stderr, "trident-train: error: %s (see trident-train --help)\n", e.what());
    return 2;
  } catch (const trident::UsageError& e) {
    if (speaks) std::fprintf(stderr, "trident-train: error: %s\n", e.what());
    return 2;
  }
  trident::launch::record_flags_given(app, cfg);  // what --load must not take from the checkpoint
  if (flag_reference) {
    std::fputs(trident::launch::flag_reference(app).c_str(), stdout);
    return 0;
  }
  if (cfg.print_schedule) return speaks ? print_pipeline_schedule(cfg) : 0;
  return std::nullopt;
}

// Training on every rank, from set-up to the end; the exit status (module comment).
int train(const trident::launch::TrainConfig& cfg, const trident::dist::World& world) {
  using trident::dist::World;
  // trident::Error messages carry their rank already; other exceptions get it here.
  auto with_rank = [&](const char* what) {
    const bool tagged = std::string_view(what).starts_with("[rank ");
    return std::string("trident-train: error: ") + (tagged || world.size == 1 ? "" : "[rank " + std::to_string(world.rank) + "] ") + what;
  };
  // Before set-up (rank 0 may tokenize for a while): a stop asked for then is acted on after the first iteration.
  trident::launch::install_stop_signal_handlers();
  std::unique_ptr<trident::launch::Trainer> trainer;
  try {
    // Every rank returns from here together: failures are agreed on first.
    trainer = std::make_unique<trident::launch::Trainer>(cfg, world);
  } catch (const trident::dist::AgreementFailed&) {
    return 2;  // the failing rank says why
  } catch (const trident::UsageError& e) {
    std::fprintf(stderr, "trident-train: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    World::abort(with_rank(e.what()), 1);
  }
  // A file-size limit (RLIMIT_FSIZE) makes a write fail with EFBIG, reported
  // like a full disk, instead of killing the process mid-save.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    trainer->train();
  } catch (const trident::launch::DivergenceGaveUp& e) {
    // Every rank gets here together; rank 0 says why.
    if (*e.what()) std::fprintf(stderr, "trident-train: error: %s\n", e.what());
    return 3;
  } catch (const trident::dist::AgreementFailed&) {
    return 1;  // another rank failed a collective check (a checkpoint save) and says why
  } catch (const trident::UsageError& e) {
    std::fprintf(stderr, "trident-train: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    // Other ranks may be waiting in a collective: bring the whole job down.
    World::abort(with_rank(e.what()), 1);
  }
  return 0;  // the trainer is destroyed here, freeing its communicators before MPI ends
}

}  // namespace

int main(int argc, char** argv) {
  using trident::dist::World;
  trident::launch::TrainConfig cfg;
  if (const std::optional<int> done = parse_flags(argc, argv, cfg)) return *done;
  const World& world = World::init(&argc, &argv);
  trident::init_logging(world.rank, world.rank == 0);
  const int status = train(cfg, world);
  World::finalize();
  return status;
}
