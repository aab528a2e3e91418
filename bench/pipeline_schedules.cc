// Pipeline schedules measured against their simulation (run under mpirun;
// bench/pipeline_schedules.sh starts the (tp, pp, dp) = (2, 2, 2) layout on
// 8 ranks). For each schedule: the median iteration time; the measured
// bubble, 1 − (mean compute time per rank) / (the iteration's compute
// window, first forward to last backward over all ranks, from the
// executor's timestamps; one node, so one clock); and beside it the
// simulator's bubble for the same action lists, costed with the measured
// mean forward and backward times, and the textbook figure.
//
// Before it reports, it verifies: every schedule trained the same model
// (equal losses to 1e-5) and the simulator found no deadlock.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "framework/core/log.h"
#include "framework/dist/world.h"
#include "framework/pipeline/simulator.h"
#include "launch/train_flags.h"
#include "launch/trainer.h"

namespace {

using namespace trident;

struct Measured {
  double window = 0.0, busy = 0.0, forward = 0.0, backward = 0.0;  // seconds; busy, forward, backward per rank
};

// Of one iteration's executor timings: this rank's busy time and mean
// action costs, and the compute window over all ranks.
Measured measure(const pipeline::Executor& ex, dist::Comm& world) {
  double first = 1e300, last = -1e300, busy = 0.0, f = 0.0, b = 0.0;
  int nf = 0, nb = 0;
  for (const pipeline::TimedAction& t : ex.timings()) {
    if (!t.action.is_compute()) continue;  // waits for a neighbour are bubble, not work
    first = std::min(first, t.start);
    last = std::max(last, t.end);
    busy += t.end - t.start;
    if (t.action.kind == pipeline::ActionKind::forward) f += t.end - t.start, ++nf;
    else b += t.end - t.start, ++nb;
  }
  // Steady-clock seconds are too large for f32: reduce offsets from a shared whole second.
  Tensor base = Tensor::empty({1}, DType::i32);
  base.data<int32_t>()[0] = -int32_t(std::floor(first));
  world.all_reduce(base, dist::ReduceOp::max);  // −(earliest whole second)
  const double origin = -double(base.data<int32_t>()[0]);
  Tensor window = Tensor::from_vector({float(origin - first), float(last - origin)}, {2});
  world.all_reduce(window, dist::ReduceOp::max);  // (−earliest start, latest end)
  Tensor sums = Tensor::from_vector({float(busy), float(f / nf), float(b / nb)}, {3});
  world.all_reduce(sums, dist::ReduceOp::sum);
  const double n = world.size();
  return {double(window.item(0)) + double(window.item(1)), sums.item(0) / n, sums.item(1) / n, sums.item(2) / n};
}

}  // namespace

int main(int argc, char** argv) {
  launch::TrainConfig cfg;
  cfg.model.num_layers = 8;
  cfg.model.hidden_size = 128;
  cfg.model.num_attention_heads = 4;
  cfg.model.seq_length = 128;
  cfg.micro_batch_size = 2;
  cfg.global_batch_size = 32;
  cfg.threads = 1;
  cfg.device = "cpu";
  int warmup = 2, iters = 6, chunks = 2;
  CLI::App app{"bench/pipeline_schedules: measured vs simulated pipeline bubble, per schedule"};
  launch::add_train_flags(app, cfg);
  app.add_option("--warmup", warmup, "untimed iterations");
  app.add_option("--iters", iters, "timed iterations");
  app.add_option("--interleaved-chunks", chunks, "virtual stages per rank for the interleaved schedule");
  CLI11_PARSE(app, argc, argv);
  cfg.train_iters = warmup + iters;
  cfg.lr_decay_style = "constant";

  const dist::World& world = dist::World::init(&argc, &argv);
  init_logging(world.rank, false);
  std::vector<nlohmann::json> lines;
  std::vector<double> losses;
  for (const std::string schedule : {"gpipe", "1f1b", "interleaved"}) {
    launch::TrainConfig c = cfg;
    c.pipeline_schedule = schedule;
    c.num_virtual_stages = schedule == "interleaved" ? chunks : 1;
    auto trainer = std::make_unique<launch::Trainer>(c, world);
    for (int it = 1; it <= warmup; ++it) trainer->step(it);
    std::vector<double> times, bubbles;
    Measured sum;
    double loss = 0.0;
    for (int it = warmup + 1; it <= warmup + iters; ++it) {
      const launch::IterationStats s = trainer->step(it);
      times.push_back(s.seconds);
      loss = s.loss;
      const Measured m = measure(trainer->train_step().executor(), trainer->parts().groups->world());
      bubbles.push_back(1.0 - m.busy / m.window);
      sum.forward += m.forward / iters;
      sum.backward += m.backward / iters;
    }
    losses.push_back(loss);
    const pipeline::ScheduleShape shape = trainer->config().schedule_shape(trainer->parts().groups->layout().dp);
    const pipeline::Simulation sim =
        pipeline::simulate(trainer->train_step().schedule(), shape, {sum.forward, sum.backward, 0.0});
    TRIDENT_CHECK(!sim.deadlock, "simulator: ", sim.deadlock_report);
    const double p = shape.stages, m = shape.micro_batches, v = shape.chunks;
    std::sort(times.begin(), times.end());
    std::sort(bubbles.begin(), bubbles.end());
    const dist::Layout& l = trainer->parts().groups->layout();
    lines.push_back({{"bench", "pipeline_schedule"}, {"schedule", schedule}, {"tp", l.tp}, {"pp", l.pp},
                     {"dp", l.dp}, {"micro_batches", shape.micro_batches}, {"chunks", shape.chunks},
                     {"layers", c.model.num_layers}, {"hidden", c.model.hidden_size}, {"seq", c.model.seq_length},
                     {"ms_per_iter", times[times.size() / 2] * 1e3},
                     {"forward_ms", sum.forward * 1e3}, {"backward_ms", sum.backward * 1e3},
                     {"measured_bubble", bubbles[bubbles.size() / 2]},
                     {"simulated_bubble", sim.bubble_fraction()},
                     {"textbook_bubble", ((p - 1) / v) / (m + (p - 1) / v)},
                     {"peak_activation_sets_stage0", sim.peak_live[0]}, {"loss", loss}});
    trainer.reset();
  }
  for (double l : losses)
    TRIDENT_CHECK(std::abs(l - losses[0]) <= 1e-5 * std::abs(losses[0]), "schedules trained different models: loss ",
                  l, " vs ", losses[0]);
  if (world.rank == 0)
    for (const auto& line : lines) std::printf("%s\n", line.dump().c_str());
  dist::World::finalize();
  return 0;
}
