// The time model (launch/time_model.h) against Narayanan et al. 2021, Table 1
// (GPT 1.7B–1T on DGX A100s, ../shared/REFERENCE.md), with the memory model
// saying each published layout fits in 80 GB; and its scaling laws on small
// cases: TP communication, GEMM efficiency, the 1F1B bubble.
//
// Assumptions for Table 1 (docs/planner.md): micro-batch 1 for every row;
// full recompute (the paper's runs used activation checkpointing and its
// TFLOP/s count the recompute); no distributed optimizer, no sequence
// parallelism (2021 Megatron had neither); virtual stages: 1 where pp = 1,
// else the smallest v ≥ 2 that divides the layers per pipeline rank, unless
// the memory model says that does not fit (then plain 1F1B).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "framework/core/error.h"
#include "launch/memory_model.h"
#include "launch/time_model.h"

namespace trident::launch {
namespace {

// The acceptance bound on |predicted − published| / published TFLOP/s per GPU.
constexpr double kPublishedTolerance = 0.15;

struct Table1Row {
  const char* params;
  int64_t hidden, layers, heads;
  int tp, pp, gpus;
  int64_t batch;
  double tflops;  // published, per GPU, counting recompute
};

constexpr Table1Row kTable1[] = {
    {"1.7B", 2304, 24, 24, 1, 1, 32, 512, 137},       {"3.6B", 3072, 30, 32, 2, 1, 64, 512, 138},
    {"7.5B", 4096, 36, 32, 4, 1, 128, 512, 142},      {"18.4B", 6144, 40, 48, 8, 1, 256, 1024, 135},
    {"39.1B", 8192, 48, 64, 8, 2, 512, 1536, 138},    {"76.1B", 10240, 60, 80, 8, 4, 1024, 1792, 140},
    {"145.6B", 12288, 80, 96, 8, 8, 1536, 2304, 148}, {"310.1B", 16384, 96, 128, 8, 16, 1920, 2160, 155},
    {"529.6B", 20480, 105, 128, 8, 35, 2520, 2520, 163}, {"1008B", 25600, 128, 160, 8, 64, 3072, 3072, 163},
};

gpt::GptConfig table1_model(const Table1Row& row) {
  gpt::GptConfig m;
  m.hidden_size = row.hidden, m.num_layers = row.layers, m.num_attention_heads = row.heads;
  m.seq_length = 2048, m.vocab_size = 51200;
  m.dtype = DType::bf16, m.device = Device::cuda, m.recompute = gpt::Recompute::full;
  return m;
}

double table1_memory_gb(const Table1Row& row, const LayoutChoice& l) {
  MemoryModelInput in;
  in.model = table1_model(row);
  in.tp = l.tp, in.pp = l.pp, in.dp = l.dp, in.virtual_stages = l.virtual_stages;
  in.schedule = l.virtual_stages > 1 ? pipeline::ScheduleKind::interleaved : pipeline::ScheduleKind::one_f_one_b;
  in.micro_batch_size = l.micro_batch_size;
  in.micro_batches = row.batch / (l.dp * l.micro_batch_size);
  const MemoryPrediction p = predict_memory(in);
  return double(p.ranks.at(p.max_rank()).bytes.total()) / 1e9;
}

// The published TP×PP, dp = GPUs / (tp·pp), micro-batch 1, full recompute; interleaved with the
// smallest v ≥ 2 that divides the layers per pipeline rank if the memory model says that fits in
// the device, else plain 1F1B (v = 1, always when pp = 1).
LayoutChoice table1_layout(const Table1Row& row, double device_memory_gb) {
  LayoutChoice l;
  l.tp = row.tp, l.pp = row.pp, l.dp = row.gpus / (row.tp * row.pp);
  l.micro_batch_size = 1;
  l.recompute = gpt::Recompute::full;
  if (row.pp == 1) return l;
  const int64_t per_rank = row.layers / row.pp;
  for (l.virtual_stages = 2; per_rank % l.virtual_stages != 0; ++l.virtual_stages) {
  }
  if (table1_memory_gb(row, l) > device_memory_gb) l.virtual_stages = 1;
  return l;
}

TEST(TimeModel, NarayananTable1) {
  const ClusterSpec a100 = cluster_preset("A100-80GB", 3072);
  std::printf("| params | TP×PP | dp | v | published TFLOP/s | predicted | error | bubble | TP share | memory GB |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Table1Row& row : kTable1) {
    const LayoutChoice l = table1_layout(row, a100.device_memory_gb);
    const TimePrediction p = predict_iteration_time(table1_model(row), row.batch, l, a100);
    const double error = (p.hardware_tflops - row.tflops) / row.tflops, memory = table1_memory_gb(row, l);
    std::printf("| %s | %d×%d | %d | %d | %.0f | %.1f | %+.1f%% | %.1f%% | %.1f%% | %.1f |\n", row.params, l.tp, l.pp,
                l.dp, l.virtual_stages, row.tflops, p.hardware_tflops, 100 * error, 100 * p.bubble_fraction,
                100 * p.tensor_parallel / p.iteration, memory);
    EXPECT_LE(std::abs(error), kPublishedTolerance) << row.params << ": predicted " << p.hardware_tflops;
    EXPECT_LE(memory, a100.device_memory_gb) << row.params;
    EXPECT_LT(p.model_tflops, p.hardware_tflops) << "full recompute's FLOPs count on the hardware basis only";
  }
}

// A 1.3B-like model on one DGX A100 node.
gpt::GptConfig small_model() {
  gpt::GptConfig m;
  m.hidden_size = 2048, m.num_layers = 24, m.num_attention_heads = 16;
  m.seq_length = 2048, m.vocab_size = 51200;
  m.dtype = DType::bf16, m.device = Device::cuda;
  return m;
}

TEST(TimeModel, MoreTensorParallelismCostsMoreCommunication) {
  const ClusterSpec c = cluster_preset("A100-80GB", 8);
  LayoutChoice two, eight;
  two.tp = 2, two.dp = 4, eight.tp = 8;
  const TimePrediction a = predict_iteration_time(small_model(), 64, two, c);
  const TimePrediction b = predict_iteration_time(small_model(), 64, eight, c);
  // Each rank moves 2(n−1)/n of the same (B, T, C) per collective, and tp = 8 runs 4× the micro-batches per rank.
  EXPECT_GT(b.tensor_parallel, 3.0 * a.tensor_parallel);
  EXPECT_GT(b.tensor_parallel / b.iteration, a.tensor_parallel / a.iteration);
}

TEST(TimeModel, BiggerMicroBatchRaisesGemmEfficiency) {
  gpt::GptConfig m = small_model();
  m.hidden_size = 512, m.num_attention_heads = 8, m.seq_length = 256;  // GEMMs near the curve's knee
  const ClusterSpec c = cluster_preset("A100-80GB", 1);
  LayoutChoice one, eight;
  eight.micro_batch_size = 8;
  const TimePrediction a = predict_iteration_time(m, 64, one, c), b = predict_iteration_time(m, 64, eight, c);
  EXPECT_LT(b.compute, 0.8 * a.compute);  // the same FLOPs, at a better point of the curve
  EXPECT_GT(b.model_tflops, a.model_tflops);
}

TEST(TimeModel, OneFOneBBubbleWithoutTransfers) {
  ClusterSpec c = cluster_preset("A100-80GB", 4);
  c.inter_node_gbps = c.intra_node_gbps = 1e12, c.intra_node_latency = c.inter_node_latency = 0.0;  // free transfers
  LayoutChoice l;
  l.pp = 4;
  const int64_t m = 8;
  gpt::GptConfig model = small_model();
  const TimePrediction p = predict_iteration_time(model, m, l, c);
  // The busiest rank's chunk cost is every rank's, so the bubble is the textbook (p − 1)/(m + p − 1).
  EXPECT_NEAR(p.bubble_fraction, 3.0 / (8 + 3), 1e-9);
  EXPECT_NEAR(p.pipeline, 0.0, 1e-6 * p.iteration);
  // A slow link: the transfers on the critical path show as exposed pipeline time, and only there.
  c.inter_node_gbps = c.intra_node_gbps = 1.0, c.intra_node_latency = c.inter_node_latency = 1e-3;
  const TimePrediction slow = predict_iteration_time(model, m, l, c);
  EXPECT_GT(slow.pipeline, 2 * 3 * 1e-3);  // at least the first micro-batch's 3 sends down and 3 back up
  EXPECT_NEAR(slow.iteration - p.iteration, slow.pipeline - p.pipeline, 1e-9 + 1e-6 * slow.iteration);
}

// More ranks than cores (trident-plan --cluster local): the ranks take turns, so the bubble costs
// nothing while the shared compute is the longer, and the iteration is at least all ranks' compute
// over the cores: (1, 4, 2) does the work of (1, 1, 8), whose eight ranks each compute `compute`.
TEST(TimeModel, RanksBeyondTheCoresTakeTurns) {
  ClusterSpec c = cluster_preset("A100-80GB", 8);
  c.inter_node_gbps = c.intra_node_gbps = 1e12, c.intra_node_latency = c.inter_node_latency = 0.0;
  LayoutChoice l, flat;
  l.pp = 4, l.dp = 2, flat.dp = 8;
  const TimePrediction own = predict_iteration_time(small_model(), 16, l, c);
  const double flat_compute = predict_iteration_time(small_model(), 16, flat, c).compute;
  const int ranks = 8;
  c.cores = 2;  // 4 turns
  const TimePrediction shared = predict_iteration_time(small_model(), 16, l, c);
  const double all_compute = ranks * flat_compute / c.cores;
  EXPECT_GT(own.bubble_fraction, 0.1);
  EXPECT_GE(shared.iteration, all_compute);
  // Plus the optimizer's pass over memory, a few per cent here; no bubble.
  EXPECT_LT(shared.iteration, all_compute + 1.5 * shared.optimizer);
  EXPECT_GT(shared.optimizer, 0.0);
  EXPECT_LT(shared.iteration, 4.0 * own.iteration);  // the bubble's idle time went to other ranks
  // The cores are per node: two nodes of 4 ranks take no turns on 4 cores each, and take turns
  // over 2 × 2 cores on 2 each.
  c.gpus_per_node = 4, c.cores = 0;
  const TimePrediction two_nodes = predict_iteration_time(small_model(), 16, l, c);
  c.cores = 4;
  EXPECT_DOUBLE_EQ(predict_iteration_time(small_model(), 16, l, c).iteration, two_nodes.iteration);
  c.cores = 2;
  const TimePrediction two_each = predict_iteration_time(small_model(), 16, l, c);
  EXPECT_GE(two_each.iteration, ranks * flat_compute / 4);
  EXPECT_LT(two_each.iteration, ranks * flat_compute / 4 + 1.5 * two_each.optimizer);
}

// Selective recompute drops the attention's saved state on every path, the fused kernel's too
// (TransformerBlock::forward), and backward runs the attention forward again: it costs time on
// the fused path as well, less than full recompute.
TEST(TimeModel, SelectiveRecomputeRerunsTheAttentionForward) {
  const ClusterSpec c = cluster_preset("A100-80GB", 1);
  LayoutChoice l;
  gpt::GptConfig m = small_model();  // bf16, head size 128 on the GPU: the fused kernel
  auto compute = [&](gpt::Recompute r) {
    m.recompute = r;
    return predict_iteration_time(m, 8, l, c).compute;
  };
  const double none = compute(gpt::Recompute::none), selective = compute(gpt::Recompute::selective);
  EXPECT_GT(selective, none);
  EXPECT_LT(selective, compute(gpt::Recompute::full));
  m.dtype = DType::f32;  // unfused: the (T, T) products in full and the softmax's passes
  const double unfused_none = compute(gpt::Recompute::none);
  EXPECT_GT(compute(gpt::Recompute::selective) - unfused_none, selective - none);
}

TEST(TimeModel, PresetsAndBadInput) {
  EXPECT_EQ(cluster_preset("H100-80GB", 16).gpus_per_node, 8);
  EXPECT_GT(cluster_preset("H100-80GB", 16).peak_tflops, cluster_preset("A100-80GB", 16).peak_tflops);
  EXPECT_FALSE(cluster_preset("A100-80GB", 8).source.empty());
  try {
    cluster_preset("TPU", 8);
    ADD_FAILURE() << "no UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("A100-80GB or H100-80GB"), std::string::npos) << e.what();
  }
  LayoutChoice l;
  l.dp = 3;
  EXPECT_THROW(predict_iteration_time(small_model(), 64, l, cluster_preset("A100-80GB", 3)), UsageError);
}

}  // namespace
}  // namespace trident::launch
