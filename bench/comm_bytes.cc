// Communication volume of one training iteration, as counted by Comm,
// beside the analytic figure for the same model and layout (run under
// mpiexec; rank 0 prints one JSON line per group). Ring collectives move
// 2(n−1)/n of an all-reduce's buffer per rank.
//
// Tensor parallelism, per micro-batch of b sequences of s tokens, hidden h,
// l layers (Megatron-LM, Shoeybi et al.; Korthikanti et al.): each layer
// all-reduces b·s·h twice forward (attention output, MLP output) and twice
// backward (the column-parallel inputs' gradients): 8·b·s·h·(t−1)/t values
// per layer. The embedding adds one forward all-reduce and the output
// projection's input gradient one backward; the vocab-parallel loss
// reduces its row maxima (b·s) and its two statistics (2·b·s).
// Data parallelism: one all-reduce of every gradient, 2(d−1)/d · 4·P_local
// bytes, plus the 4-byte loss for the log.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "framework/core/log.h"
#include "framework/dist/world.h"
#include "bench/bench_shapes.h"
#include "launch/train_flags.h"
#include "launch/trainer.h"

int main(int argc, char** argv) {
  trident::launch::TrainConfig cfg;
  trident::bench::set_reference_shape(cfg, /*micro_batch=*/4, /*global_batch=*/16);
  cfg.train_iters = 1;
  CLI::App app{"bench/comm_bytes: bytes per group for one iteration, counted vs analytic"};
  trident::launch::add_train_flags(app, cfg);
  CLI11_PARSE(app, argc, argv);
  const trident::dist::World& world = trident::dist::World::init(&argc, &argv);
  trident::init_logging(world.rank, false);
  int status = 0;
  {
    trident::launch::Trainer trainer(cfg, world);
    auto& g = *trainer.parts().groups;
    g.tp().reset_counters();
    g.dp().reset_counters();
    trainer.step(1);
    const auto& c = trainer.config();
    const double t = g.layout().tp, d = g.layout().dp, b = double(c.micro_batch_size), s = double(c.model.seq_length),
                 h = double(c.model.hidden_size), l = double(c.model.num_layers);
    const double micro_batches = double(c.num_micro_batches(g.layout().dp));
    const double ring_tp = t > 1 ? 2 * (t - 1) / t : 0.0, ring_dp = d > 1 ? 2 * (d - 1) / d : 0.0;
    const double tp_values = micro_batches * ((4 * l + 2) * b * s * h + 3 * b * s);
    double local_params = 0;
    for (trident::Param* p : trainer.parts().model->params()) local_params += double(p->grad.numel());
    const double dp_values = local_params + 1;  // + the logged loss
    const struct {
      const char* group;
      trident::dist::Comm& comm;
      double analytic_bytes;
      const char* formula;
    } rows[] = {{"tp", g.tp(), ring_tp * 4 * tp_values, "2(t-1)/t * 4 bytes * m*((4l+2)*b*s*h + 3*b*s)"},
                {"dp", g.dp(), ring_dp * 4 * dp_values, "2(d-1)/d * 4 bytes * (P_local + 1)"}};
    for (const auto& row : rows) {
      const double counted = row.comm.counters().total_wire_bytes();
      const bool agree = std::abs(counted - row.analytic_bytes) <= 1e-9 * std::max(1.0, row.analytic_bytes);
      if (!agree) status = 1;
      if (world.rank == 0) {
        const nlohmann::json line = {
            {"bench", "comm_bytes"}, {"group", row.group}, {"tp", int(t)}, {"dp", int(d)},
            {"layers", int(l)}, {"hidden", int(h)}, {"seq", int(s)}, {"micro_batch", int(b)},
            {"micro_batches", int(micro_batches)},
            {"all_reduce_calls", row.comm.counters().calls[size_t(trident::dist::CommKind::all_reduce)]},
            {"counted_wire_bytes_per_rank", counted}, {"analytic_wire_bytes_per_rank", row.analytic_bytes},
            {"formula", row.formula}, {"agree", agree}};
        std::printf("%s\n", line.dump().c_str());
      }
    }
  }
  trident::dist::World::finalize();
  return status;
}
