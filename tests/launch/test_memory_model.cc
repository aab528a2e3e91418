// The memory model (launch/memory_model.h) on cases small enough to add up
// by hand from docs/memory.md, and its scaling laws: optimizer state over
// the distributed optimizer's shards, activations under sequence
// parallelism and recompute, micro-batches in flight per schedule.
#include <gtest/gtest.h>

#include "launch/memory_model.h"
#include "models/gpt/gpt_model.h"

namespace trident::launch {
namespace {

using enum MemoryCategory;

// 2 layers, C = 8, 2 heads, T = 4, vocabulary 16 (padded to 16), f32, one micro-batch of 1.
MemoryModelInput tiny() {
  MemoryModelInput in;
  in.model.num_layers = 2;
  in.model.hidden_size = 8;
  in.model.num_attention_heads = 2;
  in.model.seq_length = 4;
  in.model.vocab_size = 16;
  in.model.make_vocab_size_divisible_by = 8;
  return in;
}

TEST(MemoryModel, TinyModelByHand) {
  const PipelineRankMemory r = predict_memory(tiny()).ranks.at(0);
  // Parameters: token table 16·8, positions 4·8, 2 blocks of 12·8² + 13·8, final norm 2·8.
  const int64_t params = 128 + 32 + 2 * 872 + 16;
  EXPECT_EQ(r.bytes[weights], params * 4);
  EXPECT_EQ(r.bytes[gradients], params * 4);
  EXPECT_EQ(r.bytes[optimizer], params * 8);  // m and v; f32 weights are their own master copy
  // One block keeps, N = 4 rows: ln1.out, h, ln2.out, out (4·N·C f32) + 4 row statistics (4·N f32)
  // + qkv, y, fc1_out, act (N·12C f32) + probabilities (B·heads·T·T f32).
  const int64_t block = 4 * 4 * 8 * 4 + 4 * 4 * 4 + 4 * 96 * 4 + 2 * 4 * 4 * 4;
  EXPECT_EQ(block, 2240);
  // Stage 0: tokens (N i32) and the embedding's output (N·C); last stage: targets, final_ln out and its
  // statistics, probs (N·V f32), losses (N f32).
  const int64_t kept = 2 * block + (16 + 128) + (16 + 128 + 32 + 256 + 16);
  // The backward's peak on top: dblock and dprev (2·N·C) + the attention phase of a block:
  // d_ln2, dh, d_ln1 (3·N·C) + dy and dqkv (4·N·C/t).
  const int64_t backward = 2 * 128 + (3 * 128 + 4 * 4 * 8 * 4);
  // The CPU backend's attention buffers: q, k, v, y, dq, dk, dv (7·N·C) and dprobs (B·heads·T·T), f32.
  const int64_t workspace = 7 * 4 * 8 * 4 + 2 * 4 * 4 * 4;
  EXPECT_EQ(r.bytes[activations], kept + backward + workspace);
  EXPECT_EQ(r.bytes[communication], 0);
  EXPECT_EQ(r.in_flight, 1);
}

TEST(MemoryModel, SixteenBitKeepsMasterWeights) {
  MemoryModelInput in = tiny();
  in.model.dtype = DType::bf16;
  const PipelineRankMemory r = predict_memory(in).ranks.at(0);
  const int64_t params = 128 + 32 + 2 * 872 + 16;
  EXPECT_EQ(r.bytes[weights], params * 2);
  EXPECT_EQ(r.bytes[gradients], params * 4);   // f32 main gradients
  EXPECT_EQ(r.bytes[optimizer], params * 12);  // m, v and the f32 master copy
}

TEST(MemoryModel, ShapesAreTheModelsParameters) {
  gpt::GptConfig cfg = tiny().model;
  cfg.num_layers = 4;
  for (const auto& [pp, chunks] : {std::pair{1, 1}, {2, 1}, {2, 2}})
    for (int r = 0; r < pp; ++r) {
      gpt::GptModel model(cfg, 1, {}, gpt::PipelineStages{pp, chunks, {}}, r);
      std::vector<Shape> built;
      for (const Param* p : model.params()) built.push_back(p->value.shape());
      EXPECT_EQ(local_parameter_shapes(cfg, 1, model.stages(), r), built) << "pp " << pp << " v " << chunks << " rank " << r;
    }
}

MemoryModelInput small(int tp, int dp) {
  MemoryModelInput in;
  in.model.num_layers = 4;
  in.model.hidden_size = 64;
  in.model.num_attention_heads = 4;
  in.model.seq_length = 32;
  in.tp = tp, in.dp = dp;
  in.micro_batch_size = 2;
  in.bucket_elements = 20000;
  return in;
}

TEST(MemoryModel, DistributedOptimizerShardsTheStateOverDataParallelRanks) {
  MemoryModelInput one = small(1, 1), four = small(1, 4);
  one.distributed_optimizer = four.distributed_optimizer = true;
  const MemoryByCategory a = predict_memory(one).ranks[0].bytes, b = predict_memory(four).ranks[0].bytes;
  // A quarter, up to the padding that keeps each shard's cuts between rows (one row of 64 per parameter and bucket).
  EXPECT_NEAR(double(b[optimizer]), double(a[optimizer]) / 4, 0.02 * double(a[optimizer]) / 4);
  EXPECT_GE(b[weights], a[weights]);  // the padded buckets
  EXPECT_LT(b[weights], a[weights] * 1.02);
  EXPECT_EQ(b[communication], 0);  // the collectives work in place in the buckets
}

TEST(MemoryModel, SequenceParallelShrinksWhatLiesBetweenTheRegions) {
  MemoryModelInput plain = small(2, 1), sp = small(2, 1);
  sp.sequence_parallel = true;
  const int64_t N = 2 * 32, C = 64, t = 2;
  // Per block: ln1.out, h, ln2.out, out and the four row statistics are cut by t; the rest is already split.
  const int64_t per_block = (4 * N * C * 4 + 4 * N * 4) * (t - 1) / t;
  const ChunkActivationBytes a = chunk_activation_bytes(plain, 4, false, false);
  const ChunkActivationBytes b = chunk_activation_bytes(sp, 4, false, false);
  EXPECT_EQ(a.kept - b.kept, 4 * per_block);
}

TEST(MemoryModel, RecomputeKeepsLess) {
  MemoryModelInput in = small(1, 1);
  const int64_t none = chunk_activation_bytes(in, 4, false, false).kept;
  in.model.recompute = gpt::Recompute::selective;
  EXPECT_EQ(none - chunk_activation_bytes(in, 4, false, false).kept, 4 * (2 * 4 * 32 * 32 * 4));  // the probabilities
  in.model.recompute = gpt::Recompute::full;
  EXPECT_EQ(chunk_activation_bytes(in, 4, false, false).kept, 4 * (2 * 32 * 64 * 4));  // each block's output
}

TEST(MemoryModel, MicroBatchesInFlightFollowTheSchedule) {
  MemoryModelInput in = small(1, 1);
  in.pp = 4, in.micro_batches = 8;
  const MemoryPrediction one_f_one_b = predict_memory(in);
  EXPECT_EQ(one_f_one_b.ranks[0].in_flight, 4);
  EXPECT_EQ(one_f_one_b.ranks[3].in_flight, 1);
  in.schedule = pipeline::ScheduleKind::gpipe;
  const MemoryPrediction gpipe = predict_memory(in);
  EXPECT_EQ(gpipe.ranks[0].in_flight, 8);
  EXPECT_GT(gpipe.ranks[1].bytes[activations], one_f_one_b.ranks[1].bytes[activations]);
  // Received activations are held (as communication) until their backward: more under GPipe.
  EXPECT_GT(gpipe.ranks[1].bytes[communication], one_f_one_b.ranks[1].bytes[communication]);
}

}  // namespace
}  // namespace trident::launch
