// Communication volume of one training iteration, as counted by Comm,
// beside the analytic figure for the same model and layout (run under
// mpiexec with pp = 1; rank 0 prints one JSON line per group and, for the
// tensor-parallel group, per collective kind). A ring all-reduce moves
// 2(n−1)/n of its buffer per rank, a reduce-scatter or all-gather (n−1)/n
// of the full buffer (comm.h).
//
// Tensor parallelism, per micro-batch of b sequences of s tokens, hidden h,
// l layers, a = b·s·h activation values (Megatron-LM, Shoeybi et al.;
// Korthikanti et al.). Without sequence parallelism each layer all-reduces
// a twice forward (attention output, MLP output) and twice backward (the
// column-parallel inputs' gradients): 8·a·(t−1)/t values per layer. The
// embedding adds one forward all-reduce and the output projection's input
// gradient one backward; the vocab-parallel loss reduces its row maxima
// (b·s) and its two statistics (2·b·s). Full recompute runs each layer's
// forward collectives again in backward.
//
// With --sequence-parallel the activation all-reduces become reduce-scatters
// and all-gathers of the same a values (models/gpt/linear.cc):
//   all-gather      forward: 2 per layer (qkv and fc1 inputs) + the output
//                   projection's input; backward: 2 per layer gathering
//                   those inputs again for dW, 2 per layer for the
//                   row-parallel layers' dy, + the output projection's input
//                   again + the embedding's gradient: (6l + 3)·a
//   reduce-scatter  forward: 2 per layer (attention and MLP outputs) + the
//                   embedding; backward: 2 per layer (column inputs' dx) +
//                   the output projection's dx: (4l + 2)·a
//   all-reduce      the loss's 3·b·s as without SP, and once per iteration
//                   the gradients of the parameters that see only this
//                   rank's rows (layer norms, row-parallel biases):
//                   (6l + 2)·h values
// Reduce-scatters and all-reduces sum 16-bit values in f32 (4 bytes);
// all-gathers move the compute dtype. In values, (10l + 5)·(t−1)/t·a with
// SP vs (8l + 4)·(t−1)/t·a without: the 2l + 1 gathers again for dW
// (Megatron overlaps them with the dx GEMM) are the price of not keeping
// the gathered inputs.
// Data parallelism: one all-reduce of every gradient, 2(d−1)/d · 4·P_local
// bytes, one call per bucket, plus the 4-byte loss for the log. With
// --use-distributed-optimizer each bucket is reduce-scattered instead,
// (d−1)/d · 4·P_padded, and the parameters all-gathered after the step,
// (d−1)/d · dtype bytes · P_padded (P_padded: the buckets' row-aligned
// sizes, bucket_layout.h); the all-reduces are the loss's 4 bytes and the
// grad norm's partial sum of squares, 4 more. In f32 the same bytes as the
// all-reduce; in bf16 the gather moves half.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "framework/core/log.h"
#include "framework/dist/world.h"
#include "bench/bench_shapes.h"
#include "launch/train_flags.h"
#include "launch/trainer.h"

namespace {

using trident::dist::CommKind;

// What the analytic model says one collective kind of a group moves in one iteration.
struct Expected {
  CommKind kind;
  double calls;
  double wire_bytes;  // per rank
  const char* formula;
};

}  // namespace

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
    TRIDENT_CHECK(g.layout().pp == 1, "bench_comm_bytes: the analytic figures are for --pp 1, not ", g.layout().pp);
    g.tp().reset_counters();
    g.dp().reset_counters();
    trainer.step(1);
    const auto& c = trainer.config();
    const double t = g.layout().tp, d = g.layout().dp, b = double(c.micro_batch_size), s = double(c.model.seq_length),
                 h = double(c.model.hidden_size), l = double(c.model.num_layers);
    const double m = double(c.num_micro_batches(g.layout().dp));
    const bool sp = c.sequence_parallel;
    const double a = b * s * h, act_bytes = double(trident::dtype_size(c.model.dtype)), f32 = 4.0;
    const double ring_tp = t > 1 ? 2 * (t - 1) / t : 0.0, part_tp = t > 1 ? (t - 1) / t : 0.0,
                 ring_dp = d > 1 ? 2 * (d - 1) / d : 0.0;
    const double again = c.model.recompute == trident::gpt::Recompute::full ? 2 * l : 0.0;  // forward's collectives in backward
    double local_params = 0;
    for (trident::Param* p : trainer.parts().model->params()) local_params += double(p->grad.numel());
    // Calls and bytes per iteration, per kind (a group of one makes no call).
    const double on_tp = t > 1 ? 1.0 : 0.0;
    std::vector<Expected> tp_rows;
    if (!sp) {
      tp_rows = {{CommKind::all_reduce, on_tp * m * (4 * l + 4 + again),
                  ring_tp * f32 * m * ((4 * l + 2 + again) * a + 3 * b * s),
                  "2(t-1)/t * 4 bytes * m*((4l+2 [+2l full recompute])*b*s*h + 3*b*s)"},
                 {CommKind::reduce_scatter, 0, 0, "none"},
                 {CommKind::all_gather, 0, 0, "none"}};
    } else {
      tp_rows = {{CommKind::all_reduce, m * 2 + (6 * l + 2),
                  ring_tp * f32 * (m * 3 * b * s + (6 * l + 2) * h),
                  "2(t-1)/t * 4 bytes * (m*3*b*s + (6l+2)*h)"},
                 {CommKind::reduce_scatter, m * (4 * l + 2 + again), part_tp * f32 * m * (4 * l + 2 + again) * a,
                  "(t-1)/t * 4 bytes * m*(4l+2 [+2l full recompute])*b*s*h"},
                 {CommKind::all_gather, m * (6 * l + 3 + again), part_tp * act_bytes * m * (6 * l + 3 + again) * a,
                  "(t-1)/t * dtype bytes * m*(6l+3 [+2l full recompute])*b*s*h"}};
    }
    // analytic_calls < 0: not modelled.
    const auto report = [&](const char* group, const char* kind, double counted_calls, double analytic_calls,
                            double counted, double analytic, const char* formula) {
      const bool agree = (analytic_calls < 0 || counted_calls == analytic_calls) &&
                         std::abs(counted - analytic) <= 1e-9 * std::max(1.0, analytic);
      if (!agree) status = 1;
      if (world.rank != 0) return;
      const nlohmann::json line = {
          {"bench", "comm_bytes"}, {"group", group}, {"kind", kind}, {"tp", int(t)}, {"dp", int(d)},
          {"sequence_parallel", sp}, {"distributed_optimizer", c.use_distributed_optimizer}, {"recompute", c.recompute_granularity.empty() ? "none" : c.recompute_granularity}, {"layers", int(l)}, {"hidden", int(h)},
          {"seq", int(s)}, {"micro_batch", int(b)}, {"micro_batches", int(m)}, {"dtype", std::string(trident::dtype_name(c.model.dtype))},
          {"counted_calls", counted_calls}, {"analytic_calls", analytic_calls < 0 ? nlohmann::json() : nlohmann::json(analytic_calls)},
          {"counted_wire_bytes_per_rank", counted}, {"analytic_wire_bytes_per_rank", analytic},
          {"formula", formula}, {"agree", agree}};
      std::printf("%s\n", line.dump().c_str());
    };
    // Each kind against the model, then every byte the group moved, whatever the kind: nothing outside the model.
    const auto report_group = [&](const char* group, const trident::dist::Comm& comm, const std::vector<Expected>& rows) {
      const auto& counted = comm.counters();
      double calls = 0, analytic_calls = 0, analytic = 0;
      for (uint64_t n : counted.calls) calls += double(n);
      for (const Expected& e : rows) {
        const size_t k = size_t(e.kind);
        report(group, trident::dist::comm_kind_name(e.kind), double(counted.calls[k]), e.calls, counted.wire_bytes[k],
               e.wire_bytes, e.formula);
        analytic_calls += e.calls, analytic += e.wire_bytes;
      }
      report(group, "total", calls, analytic_calls, counted.total_wire_bytes(), analytic, "the kinds above");
    };
    report_group("tp", g.tp(), tp_rows);
    const trident::parallel::GradBuckets& buckets = trainer.train_step().buckets();
    const double on_dp = d > 1 ? 1.0 : 0.0, n_buckets = double(buckets.num_buckets()),
                 padded = double(buckets.layout().total_elements()), part_dp = d > 1 ? (d - 1) / d : 0.0;
    std::vector<Expected> dp_rows;
    if (!c.use_distributed_optimizer) {
      dp_rows = {{CommKind::all_reduce, on_dp * (n_buckets + 1), ring_dp * f32 * (local_params + 1),
                  "2(d-1)/d * 4 bytes * (P_local + 1): buckets and the loss"},
                 {CommKind::reduce_scatter, 0, 0, "none"},
                 {CommKind::all_gather, 0, 0, "none"}};
    } else {
      dp_rows = {{CommKind::all_reduce, on_dp * 2, ring_dp * f32 * 2, "2(d-1)/d * 4 bytes * 2: the loss and the grad norm"},
                 {CommKind::reduce_scatter, on_dp * n_buckets, part_dp * f32 * padded,
                  "(d-1)/d * 4 bytes * P_padded: one per bucket"},
                 {CommKind::all_gather, on_dp * n_buckets, part_dp * act_bytes * padded,
                  "(d-1)/d * dtype bytes * P_padded: one per bucket"}};
    }
    report_group("dp", g.dp(), dp_rows);
  }
  trident::dist::World::finalize();
  return status;
}
