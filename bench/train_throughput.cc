// Single-process training throughput: forward + backward + clip + AdamW per
// iteration, timed after warm-up, through the same Trainer that
// trident-train runs. Prints one JSON line with tokens/s, model GFLOP/s
// (72·B·s·l·h²·(1 + s/(6h) + V/(12·l·h)) per iteration) and that figure over
// the oneDNN GEMM peak measured in this process.
//
// Before it reports, it verifies: the loss of the timed iterations is finite
// and below ln(vocab) (training happened), and the GEMM used for the peak
// matches a float64 spot check.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <memory>
#include <random>

#include "framework/core/log.h"
#include "framework/dist/world.h"
#include "bench/bench_shapes.h"
#include "framework/backend/gemm_peak.h"
#include "launch/train_flags.h"
#include "launch/trainer.h"

int main(int argc, char** argv) {
  trident::launch::TrainConfig cfg;
  trident::bench::set_reference_shape(cfg, /*micro_batch=*/8, /*global_batch=*/8);
  cfg.threads = 2;
  int warmup = 3, iters = 10;
  CLI::App app{"bench/train_throughput: single-process training speed"};
  trident::launch::add_train_flags(app, cfg);
  app.add_option("--warmup", warmup, "untimed iterations");
  app.add_option("--iters", iters, "timed iterations");
  CLI11_PARSE(app, argc, argv);
  cfg.train_iters = warmup + iters;
  cfg.lr_decay_style = "constant";
  cfg.lr_warmup_iters = 0;

  const trident::dist::World& world = trident::dist::World::init(&argc, &argv);
  trident::init_logging(world.rank, false);
  auto trainer_owner = std::make_unique<trident::launch::Trainer>(cfg, world);
  trident::launch::Trainer& trainer = *trainer_owner;
  const double peak = trident::backend::measure_gemm_peak_gflops(
      (*trainer.parts().backend), (*trainer.parts().backend).device() == trident::Device::cpu ? 1024 : 8192, trainer.config().model.dtype);
  for (int it = 1; it <= warmup; ++it) trainer.step(it);
  std::vector<double> times;
  double loss = 0.0;
  for (int it = warmup + 1; it <= warmup + iters; ++it) {
    const auto s = trainer.step(it);
    times.push_back(s.seconds);
    loss = s.loss;
  }
  TRIDENT_CHECK(std::isfinite(loss) && loss < std::log(double(cfg.model.vocab_size)), "training did not train: loss ", loss);
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  const double flops = cfg.model.flops_per_iteration(cfg.global_batch_size);
  const double tokens = double(cfg.global_batch_size * cfg.model.seq_length);
  const nlohmann::json line = {
      {"bench", "train"},          {"impl", "trident"}, {"device", (*trainer.parts().backend).name()},
      {"dtype", std::string(trident::dtype_name(trainer.config().model.dtype))}, {"threads", cfg.threads},
      {"layers", cfg.model.num_layers}, {"hidden", cfg.model.hidden_size},
      {"heads", cfg.model.num_attention_heads}, {"seq", cfg.model.seq_length},
      {"batch", cfg.global_batch_size}, {"vocab", cfg.model.vocab_size},
      {"ms_per_iter", median * 1e3}, {"tokens_per_s", tokens / median},
      {"model_gflops", flops / median * 1e-9}, {"gemm_peak_gflops", peak},
      {"mfu", flops / median * 1e-9 / peak}, {"loss", loss}};
  std::printf("%s\n", line.dump().c_str());
  trainer_owner.reset();  // its communicators go before MPI does
  trident::dist::World::finalize();
  return 0;
}
