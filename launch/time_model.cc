// The time model (time_model.h; docs/planner.md states every assumption).
// One micro-batch of one transformer layer is costed from its pieces:
// GEMMs at the cluster's efficiency curve, memory-bound elementwise work at
// the memory bandwidth, TP collectives with a ring α–β model (not
// overlapped). The pipeline simulator turns the per-chunk costs into the
// iteration's makespan (bubble and exposed transfers from one simulation);
// the DP reduction's part not hidden under the last backward and the
// optimizer's pass over memory come after it.
#include "launch/time_model.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/core/error.h"
#include "framework/pipeline/schedule.h"
#include "framework/pipeline/simulator.h"
#include "launch/memory_model.h"
#include "models/gpt/pipeline_stages.h"

namespace trident::launch {
namespace {

constexpr double kGiga = 1e9, kTera = 1e12;

// ---- Device and links ----------------------------------------------------

double gemm_seconds(const ClusterSpec& c, double flops) {
  if (flops <= 0) return 0.0;
  const double efficiency = c.gemm_max_efficiency * flops / (flops + c.gemm_half_flops);
  return flops / (c.peak_tflops * kTera * efficiency);
}

double memory_seconds(const ClusterSpec& c, double bytes) { return bytes / (c.memory_gbps * kGiga); }

struct Link {
  double gbps, latency;  // per rank and direction; per message
};

// The link of a group of n ranks `stride` apart in rank order (TP stride 1, DP stride tp:
// process_groups.h). Inside a node when the group fits in one; otherwise the inter-node
// link, with as many adapters working at once as the group has ranks on a node (one GPU per
// adapter on DGX nodes, and NCCL runs a ring per adapter), never above NVLink.
Link group_link(const ClusterSpec& c, int n, int stride) {
  if (int64_t(n) * stride <= c.gpus_per_node) return {c.intra_node_gbps, c.intra_node_latency};
  const int on_node = std::clamp(c.gpus_per_node / stride, 1, n);
  return {std::min(c.intra_node_gbps, on_node * c.inter_node_gbps), c.inter_node_latency};
}

// Ring all-reduce: 2(n−1)/n of the buffer through each rank, 2(n−1) steps.
double all_reduce_seconds(const Link& l, int n, double bytes) {
  if (n <= 1) return 0.0;
  return 2.0 * (n - 1) / n * bytes / (l.gbps * kGiga) + 2.0 * (n - 1) * l.latency;
}

// Ring reduce-scatter or all-gather: half an all-reduce.
double half_ring_seconds(const Link& l, int n, double bytes) { return all_reduce_seconds(l, n, bytes) / 2.0; }

// ---- One transformer layer, one micro-batch -------------------------------

// The shapes the costs speak in (docs/memory.md's notation).
struct Shapes {
  double B, T, C, t, e;  // micro-batch, sequence, hidden, TP degree, bytes per compute element
  double N, Ns;          // B·T token rows; rows between the TP regions (N/t under sequence parallelism)
  double QKV, proj, F, F1;  // per rank: (H+2G)·D/t, H·D/t, F/t, fc1 rows F/t or 2F/t (SwiGLU)
  double heads, D, V;    // heads per rank, head size, V_padded/t
  bool fused_attention;  // the GPU's fused kernel (flash_attention.cu) runs: no (T, T) matrix in memory
};

Shapes shapes_of(const gpt::GptConfig& m, const LayoutChoice& l) {
  Shapes s{};
  s.B = double(l.micro_batch_size), s.T = double(m.seq_length), s.C = double(m.hidden_size), s.t = l.tp;
  s.e = double(dtype_size(m.dtype));
  s.N = s.B * s.T;
  s.Ns = l.sequence_parallel && l.tp > 1 ? s.N / s.t : s.N;
  s.QKV = double(m.qkv_rows()) / s.t, s.proj = double(m.num_attention_heads * m.head_dim()) / s.t;
  s.F = double(m.ffn_hidden()) / s.t, s.F1 = (m.swiglu ? 2 : 1) * s.F;
  s.heads = double(m.num_attention_heads) / s.t, s.D = double(m.head_dim());
  s.V = double(m.padded_vocab_size(l.tp)) / s.t;
  // Backend dispatch (attention.cu): 16-bit, head size 64 or 128, no query groups.
  s.fused_attention = m.device == Device::cuda && m.dtype != DType::f32 && (m.head_dim() == 64 || m.head_dim() == 128) &&
                      m.kv_heads() == m.num_attention_heads;
  return s;
}

// Attention's two products (Q·Kᵀ and P·V), seconds forward and backward. The unfused path's
// batched GEMMs compute the full T×T square; the fused kernel skips the 64×64 tiles above the
// diagonal, and its backward computes 7 products (S and P twice: flash_attention.cu) to forward's 2.
// Each batched call is timed as one GEMM of its total flops (the heads fill the device together).
std::pair<double, double> attention_product_seconds(const ClusterSpec& c, const Shapes& s) {
  const double product = 2.0 * s.B * s.heads * s.T * s.T * s.D;  // one full-square product
  if (!s.fused_attention) return {2 * gemm_seconds(c, product), 4 * gemm_seconds(c, product)};
  const double tiles = std::ceil(s.T / 64.0), causal = (tiles + 1) / (2 * tiles);
  return {2 * gemm_seconds(c, causal * product), 7 * gemm_seconds(c, causal * product)};
}

// Bytes the memory-bound work of a layer's forward moves (each element read or written once
// per pass, nothing fused): two norms (read + write), two residual adds (2 reads + 1 write),
// the heads' split and merge copies, the MLP activation (read fc1's output, write act), and
// on the unfused path the softmax (read the scores, write P in f32 and P rounded).
double layer_forward_bytes(const Shapes& s) {
  const double norms = 2 * (2 * s.Ns * s.C * s.e), residuals = 2 * (3 * s.Ns * s.C * s.e);
  const double heads = 2 * s.N * (s.QKV + s.proj) * s.e, activation = s.N * (s.F1 + s.F) * s.e;
  const double softmax = s.fused_attention ? 0.0 : s.B * s.heads * s.T * s.T * (2 * s.e + 4);
  return norms + residuals + heads + activation + softmax;
}

// One pass's seconds on one rank, split by kind.
struct PassSeconds {
  double compute = 0.0, tp = 0.0;
  double total() const { return compute + tp; }
};

struct LayerSeconds {
  PassSeconds forward, backward;  // backward includes what the recompute mode adds
};

// TP collectives of one layer's forward (backward moves the same): 2 all-reduces of (B, T, C),
// or with sequence parallelism 2 all-gathers + 2 reduce-scatters of it (the same ring bytes).
// 16-bit activations are summed in f32 (tensor_parallel.h), so the sums move 4-byte elements.
double layer_tp_seconds(const ClusterSpec& c, const LayoutChoice& l, const Shapes& s) {
  if (l.tp <= 1) return 0.0;
  const double bytes = s.N * s.C * 4;
  return 2 * all_reduce_seconds(group_link(c, l.tp, 1), l.tp, bytes);
}

LayerSeconds layer_seconds(const ClusterSpec& c, const gpt::GptConfig& m, const LayoutChoice& l, const Shapes& s) {
  const double gemms[] = {2 * s.N * s.C * s.QKV, 2 * s.N * s.proj * s.C, 2 * s.N * s.C * s.F1, 2 * s.N * s.F * s.C};
  double gemm_forward = 0.0;
  for (const double flops : gemms) gemm_forward += gemm_seconds(c, flops);
  const auto [attention_forward, attention_backward] = attention_product_seconds(c, s);
  const double elementwise = memory_seconds(c, layer_forward_bytes(s));
  LayerSeconds out;
  out.forward.compute = gemm_forward + attention_forward + elementwise;
  out.forward.tp = layer_tp_seconds(c, l, s);
  // Backward: two GEMMs (input and weight gradients) per forward GEMM, twice the elementwise bytes.
  out.backward.compute = 2 * gemm_forward + attention_backward + 2 * elementwise;
  out.backward.tp = out.forward.tp;
  if (m.recompute == gpt::Recompute::full) {  // the whole forward again, its TP sums included
    out.backward.compute += out.forward.compute;
    out.backward.tp += out.forward.tp;
  } else if (m.recompute == gpt::Recompute::selective) {
    // The whole attention forward again (SelfAttention::backward), both products and, unfused, the
    // softmax: the saved state is dropped on every path, the fused kernel's too.
    const double softmax = s.fused_attention ? 0.0 : memory_seconds(c, s.B * s.heads * s.T * s.T * (2 * s.e + 4));
    out.backward.compute += attention_forward + softmax;
  }
  return out;
}

// ---- The ends of the pipeline ---------------------------------------------

// The first stage's embedding (read the rows, add positions, write: 3 passes over (B, T, C); the
// vocabulary-parallel lookup sums over TP) and the last stage's final norm, output GEMM (V/t) and
// cross-entropy (read the logits, write the f32 probabilities; backward reads them and writes dlogits).
LayerSeconds embedding_seconds(const ClusterSpec& c, const LayoutChoice& l, const Shapes& s) {
  LayerSeconds out;
  out.forward.compute = memory_seconds(c, 3 * s.N * s.C * s.e);
  out.forward.tp = l.tp > 1 ? all_reduce_seconds(group_link(c, l.tp, 1), l.tp, s.N * s.C * 4) : 0.0;
  out.backward.compute = memory_seconds(c, s.N * s.C * (s.e + 4));  // scatter-add into the f32 grad
  return out;
}

LayerSeconds output_seconds(const ClusterSpec& c, const LayoutChoice& l, const Shapes& s) {
  LayerSeconds out;
  const double gemm = gemm_seconds(c, 2 * s.N * s.C * s.V), norm = memory_seconds(c, 2 * s.Ns * s.C * s.e);
  out.forward.compute = gemm + norm + memory_seconds(c, s.N * s.V * (s.e + 4));
  out.backward.compute = 2 * gemm + 2 * norm + memory_seconds(c, s.N * s.V * (4 + s.e));
  // The sequence-parallel gather before the output GEMM and its backward's reduce-scatter.
  if (l.sequence_parallel && l.tp > 1)
    out.forward.tp = out.backward.tp = half_ring_seconds(group_link(c, l.tp, 1), l.tp, s.N * s.C * s.e);
  return out;
}

PassSeconds scaled_sum(const PassSeconds& a, double k, const PassSeconds& b) {
  return {a.compute * k + b.compute, a.tp * k + b.tp};
}

// Per micro-batch, pipeline rank r's work: its layers (even split), the embedding on the first, the
// output layer on the last.
LayerSeconds pipeline_rank_seconds(const ClusterSpec& c, const gpt::GptConfig& m, const LayoutChoice& l, const Shapes& s,
                                   int r) {
  const double layers = double(m.num_layers) / l.pp;
  const LayerSeconds layer = layer_seconds(c, m, l, s);
  LayerSeconds rank{scaled_sum(layer.forward, layers, {}), scaled_sum(layer.backward, layers, {})};
  if (r == 0) {
    const LayerSeconds first = embedding_seconds(c, l, s);
    rank = {scaled_sum(first.forward, 1.0, rank.forward), scaled_sum(first.backward, 1.0, rank.backward)};
  }
  if (r == l.pp - 1) {
    const LayerSeconds last = output_seconds(c, l, s);
    rank = {scaled_sum(last.forward, 1.0, rank.forward), scaled_sum(last.backward, 1.0, rank.backward)};
  }
  return rank;
}

// Per micro-batch, every pipeline rank's work, [pipeline rank].
std::vector<LayerSeconds> pipeline_ranks_seconds(const ClusterSpec& c, const gpt::GptConfig& m, const LayoutChoice& l,
                                                 const Shapes& s) {
  std::vector<LayerSeconds> out;
  for (int r = 0; r < l.pp; ++r) out.push_back(pipeline_rank_seconds(c, m, l, s, r));
  return out;
}

// Per micro-batch, the busiest pipeline rank's work spread evenly over its `chunks`: the
// simulator takes one cost for every chunk, and the slowest rank sets the pipeline's pace.
LayerSeconds chunk_seconds(const std::vector<LayerSeconds>& ranks, int chunks) {
  LayerSeconds rank;
  for (const LayerSeconds& here : ranks)
    if (here.forward.total() + here.backward.total() > rank.forward.total() + rank.backward.total()) rank = here;
  const double v = chunks;
  return {{rank.forward.compute / v, rank.forward.tp / v}, {rank.backward.compute / v, rank.backward.tp / v}};
}

// Per micro-batch, the compute seconds of all pipeline ranks together (forward and backward).
double all_ranks_compute(const std::vector<LayerSeconds>& ranks) {
  double sum = 0.0;
  for (const LayerSeconds& here : ranks) sum += here.forward.compute + here.backward.compute;
  return sum;
}

// ---- Pipeline, data parallelism, optimizer --------------------------------

// An activation (or its gradient) between adjacent stages: (B, T, C), cut by t under sequence
// parallelism. Adjacent stages are tp·dp ranks apart (process_groups.h): the boundary is inside a
// node only when the whole tp·dp·pp grid is; each rank sends over its own adapter.
double transfer_seconds(const ClusterSpec& c, const LayoutChoice& l, const Shapes& s) {
  if (l.pp <= 1) return 0.0;
  const double bytes = s.Ns * s.C * s.e;
  const bool intra = int64_t(l.tp) * l.dp * l.pp <= c.gpus_per_node;
  return intra ? bytes / (c.intra_node_gbps * kGiga) + c.intra_node_latency
               : bytes / (c.inter_node_gbps * kGiga) + c.inter_node_latency;
}

// Each pipeline rank's parameters, [pipeline rank].
std::vector<double> pipeline_rank_parameters(const gpt::GptConfig& m, const LayoutChoice& l) {
  const gpt::PipelineStages stages = gpt::PipelineStages::even(m.num_layers, l.pp, l.virtual_stages);
  std::vector<double> out(size_t(l.pp), 0.0);
  for (int r = 0; r < l.pp; ++r)
    for (const Shape& shape : local_parameter_shapes(m, l.tp, stages, r)) out[size_t(r)] += double(shape_numel(shape));
  return out;
}

// The DP reduction of the f32 main gradients (all-reduce; with the distributed optimizer a
// reduce-scatter, then an all-gather of the compute-dtype weights after the step). Buckets reduce
// as the last micro-batch's backward finishes them, so all but the first layer's bucket hide under
// that backward; the all-gather is never overlapped (trident has no --overlap-param-gather).
double data_parallel_seconds(const ClusterSpec& c, const LayoutChoice& l, const gpt::GptConfig& m, double params,
                             double last_backward) {
  if (l.dp <= 1) return 0.0;
  const Link link = group_link(c, l.dp, l.tp);
  const double grads = params * 4, weights = params * double(dtype_size(m.dtype));
  const double reduce = l.distributed_optimizer ? half_ring_seconds(link, l.dp, grads) : all_reduce_seconds(link, l.dp, grads);
  const double layers = double(m.num_layers) / l.pp;
  const double window = last_backward * (layers - 1) / layers;
  const double gather = l.distributed_optimizer ? half_ring_seconds(link, l.dp, weights) : 0.0;
  return std::max(0.0, reduce - window) + gather;
}

// AdamW reads and writes, per parameter it steps, the compute-dtype weight, the f32 gradient
// and 12 bytes of state (f32 master, m, v; no master copy in f32, which the 16-bit case bounds).
double optimizer_seconds(const ClusterSpec& c, const LayoutChoice& l, const gpt::GptConfig& m, double params) {
  const double owned = l.distributed_optimizer ? params / l.dp : params;
  return memory_seconds(c, owned * (double(dtype_size(m.dtype)) + 4 + 12) * 2);
}

// Forward FLOPs of every layer (what full recompute repeats) or of the attention products only
// (selective), over `batch` sequences: GptConfig::flops_per_iteration's terms.
double recompute_flops(const gpt::GptConfig& m, int64_t batch) {
  const double tokens = double(batch) * double(m.seq_length), h = double(m.hidden_size);
  if (m.recompute == gpt::Recompute::full)
    return m.flops_per_iteration(batch) / 3 - 2 * tokens * h * double(m.vocab_size);
  if (m.recompute == gpt::Recompute::selective) return 2 * tokens * double(m.num_layers) * 2 * double(m.seq_length) * h;
  return 0.0;
}

// Note [ranks sharing cores]: with more ranks than cores (trident-plan --cluster local) a rank's
// idle time (the bubble, a wait for a neighbour) lends its core to another, so the iteration takes
// the longer of the critical path at full speed and all ranks' compute over the cores (every
// pipeline rank's own work, not the busiest one's), then all ranks' optimizer steps over the
// cores, with the communication's time on top: a rank
// in a collective does not compute, and the data-parallel reduction hides under no backward
// because the cores that would run that backward are the ones the reduction needs.

}  // namespace

TimePrediction predict_iteration_time(const gpt::GptConfig& model, int64_t global_batch, const LayoutChoice& layout,
                                      const ClusterSpec& cluster) {
  const int64_t per_dp = int64_t(layout.dp) * layout.micro_batch_size;
  TRIDENT_USAGE_CHECK(layout.tp >= 1 && layout.pp >= 1 && layout.dp >= 1 && layout.micro_batch_size >= 1,
                      "tp, pp, dp and the micro-batch size must be positive");
  TRIDENT_USAGE_CHECK(global_batch % per_dp == 0, "--global-batch-size ", global_batch,
                      " is not divisible by dp × --micro-batch-size = ", per_dp);
  const Shapes s = shapes_of(model, layout);
  const std::vector<LayerSeconds> rank_seconds = pipeline_ranks_seconds(cluster, model, layout, s);
  const pipeline::ScheduleShape shape{layout.pp, int(global_batch / per_dp), layout.virtual_stages};
  const LayerSeconds chunk = chunk_seconds(rank_seconds, shape.chunks);
  const auto kind = layout.virtual_stages > 1 ? pipeline::ScheduleKind::interleaved : pipeline::ScheduleKind::one_f_one_b;
  pipeline::check_shape(kind, shape);
  const pipeline::Schedule schedule = pipeline::make_schedule(kind, shape);
  const double transfer = transfer_seconds(cluster, layout, s);
  const pipeline::Simulation sim = pipeline::simulate(schedule, shape, {chunk.forward.total(), chunk.backward.total(), transfer});
  const double no_transfer =  // the makespan the transfers lengthened
      transfer > 0.0 ? pipeline::simulate(schedule, shape, {chunk.forward.total(), chunk.backward.total(), 0.0}).makespan
                     : sim.makespan;

  TimePrediction p;
  const double actions = double(shape.micro_batches) * shape.chunks;
  p.compute = actions * (chunk.forward.compute + chunk.backward.compute);
  p.tensor_parallel = actions * (chunk.forward.tp + chunk.backward.tp);
  p.pipeline = sim.makespan - no_transfer;
  p.bubble_fraction = sim.bubble_fraction();
  const std::vector<double> rank_params = pipeline_rank_parameters(model, layout);
  const double params = *std::max_element(rank_params.begin(), rank_params.end());  // the longest reduction and step
  p.data_parallel = data_parallel_seconds(cluster, layout, model, params, shape.chunks * chunk.backward.total());
  p.optimizer = optimizer_seconds(cluster, layout, model, params);
  p.iteration = sim.makespan + p.data_parallel + p.optimizer;
  const double devices = double(layout.tp) * layout.pp * layout.dp;
  const int per_node = std::min(int(devices), cluster.gpus_per_node);  // ranks on each node's cores
  if (cluster.cores > 0 && per_node > cluster.cores) {
    // Ranks take turns on the cores (Note [ranks sharing cores]), each node's on its own.
    const double cores = double(cluster.cores) * std::ceil(devices / per_node);
    const double all_compute = double(shape.micro_batches) * layout.tp * layout.dp * all_ranks_compute(rank_seconds);
    p.optimizer = 0.0;  // every rank's own step, over the cores
    for (const double n : rank_params) p.optimizer += optimizer_seconds(cluster, layout, model, n);
    p.optimizer *= double(layout.tp) * layout.dp / cores;
    p.data_parallel = data_parallel_seconds(cluster, layout, model, params, 0.0);
    const double shared = all_compute / cores + p.tensor_parallel + p.pipeline;
    p.iteration = std::max(sim.makespan, shared) + p.data_parallel + p.optimizer;
  }
  p.model_tflops = model.flops_per_iteration(global_batch) / p.iteration / devices / kTera;
  p.hardware_tflops = (model.flops_per_iteration(global_batch) + recompute_flops(model, global_batch)) / p.iteration /
                      devices / kTera;
  return p;
}

// ---- Presets --------------------------------------------------------------

ClusterSpec cluster_preset(const std::string& name, int gpus) {
  TRIDENT_USAGE_CHECK(gpus >= 1, "--gpus must be positive, got ", gpus);
  ClusterSpec c;
  c.name = name, c.gpus = gpus, c.gpus_per_node = 8, c.device_memory_gb = 80.0;
  if (name == "A100-80GB") {
    c.peak_tflops = 312.0, c.memory_gbps = 2039.0;
    // Note [GEMM ceiling]: cuBLAS's best shape reaches 85.9% of peak (MAMF); inside a training step
    // Korthikanti et al. 2022, Table 4 (22B layer, tp 8, micro-batch 4, A100: 19.6 ms forward +
    // backward) leaves, after this model's TP and elementwise terms, 2.94 TFLOP of GEMMs in 13.6 ms:
    // 216 TFLOP/s, 0.69 of peak (0.70 before the curve's size factor). docs/planner.md shows both.
    c.gemm_max_efficiency = 0.70, c.gemm_half_flops = 1e9;
    c.intra_node_gbps = 300.0, c.inter_node_gbps = 25.0;
    c.intra_node_latency = 5e-6, c.inter_node_latency = 10e-6;
    c.source = "DGX A100 (8 GPUs): 312 TFLOP/s bf16 dense and 2039 GB/s HBM2e (A100 80GB SXM datasheet); "
               "NVLink3 600 GB/s bidirectional = 300 per direction; one HDR 200 Gb/s adapter per GPU = 25 GB/s "
               "(DGX A100 datasheet). GEMM efficiency 0.70 of peak: Megatron-LM's GEMMs in a training step, derived "
               "from Korthikanti et al. 2022 Table 4 (22B layer on A100, 19.6 ms forward + backward) less this model's "
               "TP and elementwise terms (best-shape cuBLAS: 0.859, Bekman's MAMF, ml-engineering). Half-efficiency GEMM size 1 GFLOP: rough, "
               "one wave of 128×128 tiles over 108 SMs at k = 256, not a measurement. Latencies: rough NCCL figures.";
  } else if (name == "H100-80GB") {
    c.peak_tflops = 989.0, c.memory_gbps = 3350.0;
    // Note [GEMM ceiling]'s in-training/best-shape ratio (0.70 / 0.859) applied to the H100's MAMF: rough.
    c.gemm_max_efficiency = 0.65, c.gemm_half_flops = 2.2e9;
    c.intra_node_gbps = 450.0, c.inter_node_gbps = 50.0;
    c.intra_node_latency = 5e-6, c.inter_node_latency = 10e-6;
    c.source = "DGX H100 (8 GPUs): 989 TFLOP/s bf16 dense and 3350 GB/s HBM3 (H100 SXM datasheet); "
               "NVLink4 900 GB/s bidirectional = 450 per direction; one NDR 400 Gb/s adapter per GPU = 50 GB/s "
               "(DGX H100 datasheet). GEMM efficiency 0.65: rough, the A100's in-training/best-shape ratio (0.70/0.859) "
               "times the H100 SXM's best-shape 0.801 (Bekman's MAMF, 792.1 TFLOP/s, ml-engineering). Half-efficiency GEMM size 2.2 GFLOP: rough, "
               "one wave of 128×256 tiles over 132 SMs at k = 256, not a measurement. Latencies: rough NCCL figures.";
  } else {
    TRIDENT_USAGE_CHECK(false, "unknown cluster preset '", name,
                        "': use A100-80GB or H100-80GB, or --cluster custom with the figures by flag");
  }
  return c;
}

}  // namespace trident::launch
