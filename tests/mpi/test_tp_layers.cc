// Each tensor-parallel layer, forward and backward, against the same layer
// unsharded (built on every rank from the same names and seed, so its
// weights are exactly the concatenation of the shards), then the whole GPT;
// then the GPT under sequence parallelism against the single-rank model and
// against TP without it. Run with tp = the number of ranks (2 and 4).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <tuple>

#include "framework/core/rng.h"
#include "framework/dist/process_groups.h"
#include "framework/parallel/gather.h"
#include "models/gpt/gpt_model.h"

namespace trident::gpt {
namespace {

class TensorParallel : public ::testing::Test {
 protected:
  void SetUp() override {
    const dist::World& world = dist::World::init(nullptr, nullptr);
    groups = std::make_unique<dist::ProcessGroups>(world, dist::resolve_layout(world.size, world.size, 1, 0));
    tp = parallel::TpGroup{&groups->tp()};
    be = backend::make_cpu_backend(1);
    cfg.num_layers = 2;
    cfg.hidden_size = 32;
    cfg.num_attention_heads = 4;
    cfg.seq_length = 8;
    cfg.vocab_size = 37;  // padded to 128·tp: the padding must change nothing
  }
  // Same values on every rank (same seed).
  Tensor random(Shape shape, uint64_t seed) {
    Tensor t = Tensor::empty(std::move(shape));
    std::mt19937 gen{unsigned(seed)};
    std::normal_distribution<float> dist;
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
    return t;
  }
  // Columns [c0, c0 + w) of each of `blocks` equal column blocks of a 2-D tensor.
  static Tensor columns(const Tensor& t, int64_t blocks, int64_t c0, int64_t w) {
    const int64_t rows = t.size(0), cols = t.size(1), block = cols / blocks;
    Tensor out = Tensor::empty({rows, blocks * w});
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < blocks; ++b)
        for (int64_t j = 0; j < w; ++j) out.set(r * blocks * w + b * w + j, t.item(r * cols + b * block + c0 + j));
    return out;
  }
  static Tensor grad_of(const Param& p, parallel::TpGroup g) {
    Param copy = p;
    copy.value = p.grad;
    return parallel::gather_tensor_parallel(copy, g);
  }
  static void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
    ASSERT_EQ(got.numel(), want.numel()) << what;
    double ref = 0.0, err = 0.0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      ref = std::max(ref, double(std::abs(want.item(i))));
      err = std::max(err, double(std::abs(got.item(i) - want.item(i))));
    }
    ASSERT_GT(ref, 0.0) << what << ": the reference is zero";
    EXPECT_LE(err / ref, 1e-5) << what;
  }

  std::unique_ptr<dist::ProcessGroups> groups;
  parallel::TpGroup tp;
  std::unique_ptr<backend::Backend> be;
  GptConfig cfg;
};

TEST_F(TensorParallel, ColumnParallelLinearWithBlocks) {
  const int64_t N = 6, in = 8, out = 24, blocks = 3, w = out / blocks / tp.size();
  ColumnParallelLinear full("l", in, out, 0.5f, DType::f32, {}, blocks), shard("l", in, out, 0.5f, DType::f32, tp, blocks);
  init_param(full.weight, 1), init_param(shard.weight, 1);
  full.bias.value.copy_from(random({out}, 9)), shard.bias.value.copy_from(columns(random({out}, 9).view({1, out}), blocks, tp.rank() * w, w));
  const Tensor x = random({N, in}, 2);
  Tensor y_full = Tensor::empty({N, out}), y = Tensor::empty({N, blocks * w});
  full.forward(*be, x, y_full);
  shard.forward(*be, x, y);
  expect_close(y, columns(y_full, blocks, tp.rank() * w, w), "y is this rank's columns");
  const Tensor dy_full = random({N, out}, 12), dy = columns(dy_full, blocks, tp.rank() * w, w);
  Tensor dx_full = Tensor::empty({N, in}), dx = Tensor::empty({N, in});
  full.backward(*be, x, dy_full, dx_full);
  shard.backward(*be, x, dy, dx);
  expect_close(dx, dx_full, "dx summed over TP");
  expect_close(grad_of(shard.weight, tp), full.weight.grad, "dW");
  expect_close(grad_of(shard.bias, tp), full.bias.grad, "db");
}

TEST_F(TensorParallel, RowParallelLinear) {
  const int64_t N = 6, in = 16, out = 12, w = in / tp.size();
  RowParallelLinear full("l", in, out, 0.5f, DType::f32, {}), shard("l", in, out, 0.5f, DType::f32, tp);
  init_param(full.weight, 1), init_param(shard.weight, 1);
  full.bias.value.copy_from(random({out}, 9)), shard.bias.value.copy_from(random({out}, 9));
  const Tensor x_full = random({N, in}, 3), x = columns(x_full, 1, tp.rank() * w, w);
  Tensor y_full = Tensor::empty({N, out}), y = Tensor::empty({N, out});
  full.forward(*be, x_full, y_full);
  shard.forward(*be, x, y);
  expect_close(y, y_full, "y summed over TP");
  const Tensor dy = random({N, out}, 4);
  Tensor dx_full = Tensor::empty({N, in}), dx = Tensor::empty({N, w});
  full.backward(*be, x_full, dy, dx_full);
  shard.backward(*be, x, dy, dx);
  expect_close(dx, columns(dx_full, 1, tp.rank() * w, w), "dx is this rank's columns");
  expect_close(grad_of(shard.weight, tp), full.weight.grad, "dW");
  expect_close(shard.bias.grad, full.bias.grad, "db (replicated)");
}

TEST_F(TensorParallel, SelfAttentionSplitsHeads) {
  SelfAttention full("a", cfg, {}), shard("a", cfg, tp);
  for (auto [f, s] : {std::pair{&full.qkv.weight, &shard.qkv.weight}, {&full.proj.weight, &shard.proj.weight}})
    init_param(*f, 5), init_param(*s, 5);
  const int64_t B = 2, T = cfg.seq_length, C = cfg.hidden_size;
  const Tensor x = random({B, T, C}, 6);
  SelfAttention::Context cf, cs;
  Tensor y_full = Tensor::empty({B, T, C}), y = Tensor::empty({B, T, C});
  full.forward(*be, x, cf, y_full);
  shard.forward(*be, x, cs, y);
  expect_close(y, y_full, "attention output");
  const Tensor dy = random({B, T, C}, 7);
  Tensor dx_full = Tensor::empty({B, T, C}), dx = Tensor::empty({B, T, C});
  full.backward(*be, x, cf, dy, dx_full);
  shard.backward(*be, x, cs, dy, dx);
  expect_close(dx, dx_full, "dx");
  expect_close(grad_of(shard.qkv.weight, tp), full.qkv.weight.grad, "dW qkv (Q|K|V blocks)");
  expect_close(grad_of(shard.proj.weight, tp), full.proj.weight.grad, "dW proj");
}

TEST_F(TensorParallel, VocabParallelEmbedding) {
  Embedding full(cfg, {}), shard(cfg, tp);
  for (Param* p : {&full.word, &full.position, &shard.word, &shard.position}) init_param(*p, 8);
  Tensor tokens = Tensor::empty({2, cfg.seq_length}, DType::i32);
  for (int64_t i = 0; i < tokens.numel(); ++i) tokens.data<int32_t>()[i] = int32_t((i * 13) % cfg.vocab_size);
  Tensor out_full = Tensor::empty({2, cfg.seq_length, cfg.hidden_size}), out = out_full.clone();
  full.forward(*be, tokens, out_full);
  shard.forward(*be, tokens, out);
  expect_close(out, out_full, "embedding");
  const Tensor dout = random({2, cfg.seq_length, cfg.hidden_size}, 10);
  full.backward(*be, tokens, dout);
  shard.backward(*be, tokens, dout);
  const Tensor g_full = full.word.grad.slice(0, cfg.vocab_size), g = grad_of(shard.word, tp).slice(0, cfg.vocab_size);
  expect_close(g, g_full, "dwte");
  expect_close(shard.position.grad, full.position.grad, "dwpe");
}

// The whole model, with vocab-parallel cross-entropy over a padded vocabulary.
TEST_F(TensorParallel, GptLossAndEveryGradient) {
  GptModel full(cfg, 11, {}), shard(cfg, 11, tp);
  Tensor tokens = Tensor::empty({3, cfg.seq_length}, DType::i32), targets = tokens.clone();
  const Philox rng(3, "batch");
  for (int64_t i = 0; i < tokens.numel(); ++i) {
    tokens.data<int32_t>()[i] = int32_t(rng.below(uint64_t(cfg.vocab_size), uint64_t(i)));
    targets.data<int32_t>()[i] = int32_t(rng.below(uint64_t(cfg.vocab_size), uint64_t(i), 1));
  }
  GptActivations af, as;
  full.zero_grad(), shard.zero_grad();
  const float lf = full.forward(*be, tokens, targets, af), ls = shard.forward(*be, tokens, targets, as);
  EXPECT_NEAR(ls, lf, 1e-6 * lf);
  full.backward(*be, af, 1.f);
  shard.backward(*be, as, 1.f);
  const auto pf = full.params(), ps = shard.params();
  for (size_t i = 0; i < pf.size(); ++i) {
    Tensor g = grad_of(*ps[i], tp), gf = pf[i]->grad;
    if (const int64_t rows = pf[i]->unpadded_rows; rows >= 0) g = g.slice(0, rows), gf = gf.slice(0, rows);  // padding differs by tp
    expect_close(g, gf, pf[i]->name);
  }
}

// Sequence parallelism: the GPT with --sequence-parallel against the
// single-rank model (the oracle) and against the same TP without SP, in
// every recompute mode, at tp = 2 and tp = 4 (where there are 4 ranks; with
// tp < ranks the other ranks form more TP groups doing the same). B = 3 and
// T = 8 cut rows across sequences at tp = 4 (6 rows a rank), as
// Note [sequence-parallel rows] allows.
class SequenceParallel : public TensorParallel, public ::testing::WithParamInterface<std::tuple<int, Recompute>> {
 protected:
  struct Result {
    float loss = 0.f;
    std::map<std::string, Tensor> grads;  // whole (gathered over TP), without vocabulary padding
  };
  void SetUp() override {
    TensorParallel::SetUp();
    const auto [tp_size, recompute] = GetParam();
    const dist::World& world = dist::World::init(nullptr, nullptr);
    if (tp_size > world.size) GTEST_SKIP() << "tp = " << tp_size << " needs " << tp_size << " ranks";
    sp_groups = std::make_unique<dist::ProcessGroups>(world, dist::resolve_layout(world.size, tp_size, 1, 0));
    cfg.recompute = recompute;
    tokens = Tensor::empty({3, cfg.seq_length}, DType::i32), targets = tokens.clone();
    const Philox rng(3, "batch");
    for (int64_t i = 0; i < tokens.numel(); ++i) {
      tokens.data<int32_t>()[i] = int32_t(rng.below(uint64_t(cfg.vocab_size), uint64_t(i)));
      targets.data<int32_t>()[i] = int32_t(rng.below(uint64_t(cfg.vocab_size), uint64_t(i), 1));
    }
  }
  parallel::TpGroup group(bool sequence_parallel) { return {&sp_groups->tp(), sequence_parallel}; }
  // What the trainer does before the data-parallel reduction
  // (launch/train_step.cc), then every gradient made whole.
  static Result collect(float loss, const std::vector<Param*>& params, parallel::TpGroup g) {
    Result r{loss, {}};
    for (Param* p : params) {
      if (p->sequence_parallel) g.comm->all_reduce(p->grad, dist::ReduceOp::sum);
      Tensor whole = grad_of(*p, g);
      if (p->unpadded_rows >= 0) whole = whole.slice(0, p->unpadded_rows).clone();  // padding differs by tp
      if (auto [it, fresh] = r.grads.emplace(p->name, whole); !fresh)  // the tied table's two halves
        for (int64_t i = 0; i < whole.numel(); ++i) it->second.set(i, it->second.item(i) + whole.item(i));
    }
    return r;
  }
  Result run_single_stage(parallel::TpGroup g) {
    GptModel model(cfg, 11, g);
    GptActivations act;
    model.zero_grad();
    const float loss = model.forward(*be, tokens, targets, act);
    // Between the regions a rank holds its rows only: the memory SP saves.
    EXPECT_EQ(act.input.shape(), (Shape{3, cfg.seq_length / g.sequence_shards(), cfg.hidden_size}));
    EXPECT_EQ(act.final_ln.out.size(0), 3 * cfg.seq_length / g.sequence_shards());
    model.backward(*be, act, 1.f);
    return collect(loss, model.params(), g);
  }
  // Two pipeline stages on one rank, the boundary handed over by hand.
  Result run_two_stages(parallel::TpGroup g) {
    cfg.num_layers = 2;
    GptModel first(cfg, 11, g, PipelineStages{.pp = 2}, 0), last(cfg, 11, g, PipelineStages{.pp = 2}, 1);
    GptActivations a0, a1;
    first.zero_grad(), last.zero_grad();
    first.forward(*be, 0, tokens, Tensor(), a0);
    const Shape boundary{3, cfg.seq_length / g.sequence_shards(), cfg.hidden_size};
    EXPECT_EQ(first.boundary_shape(3), boundary);
    EXPECT_EQ(a0.output().shape(), boundary);
    const float loss = last.forward(*be, 0, a0.output(), targets, a1);
    Tensor dboundary, unused;
    last.backward(*be, 0, a1, Tensor(), 1.f, dboundary);
    EXPECT_EQ(dboundary.shape(), boundary);
    first.backward(*be, 0, a0, dboundary, 1.f, unused);
    std::vector<Param*> params = first.params();
    for (Param* p : last.params()) params.push_back(p);
    return collect(loss, params, g);
  }
  void expect_same(const Result& got, const Result& want, const std::string& what) {
    EXPECT_NEAR(got.loss, want.loss, 1e-6 * want.loss) << what;
    ASSERT_EQ(got.grads.size(), want.grads.size()) << what;
    for (const auto& [name, g] : want.grads) expect_close(got.grads.at(name), g, what + ": " + name);
  }

  std::unique_ptr<dist::ProcessGroups> sp_groups;
  Tensor tokens, targets;
};

TEST_P(SequenceParallel, GptMatchesSingleRankAndTensorParallel) {
  const Result oracle = run_single_stage({}), tp_only = run_single_stage(group(false)),
               sp = run_single_stage(group(true));
  expect_same(sp, oracle, "SP vs one rank");
  expect_same(sp, tp_only, "SP vs TP without SP");
}

TEST_P(SequenceParallel, TwoPipelineStagesMatchOneRank) {
  const Result oracle = run_single_stage({}), sp = run_two_stages(group(true));
  expect_same(sp, oracle, "two SP stages vs one rank");
}

// Recomputation changes what is kept, never a value: bit-identical to keeping everything.
TEST_P(SequenceParallel, RecomputeIsExact) {
  const Result got = run_single_stage(group(true));
  cfg.recompute = Recompute::none;
  const Result want = run_single_stage(group(true));
  EXPECT_EQ(got.loss, want.loss);
  for (const auto& [name, g] : want.grads) EXPECT_EQ(got.grads.at(name).to_vector(), g.to_vector()) << name;
}

std::string sequence_parallel_case(const ::testing::TestParamInfo<std::tuple<int, Recompute>>& info) {
  static const char* const mode[] = {"none", "selective", "full"};
  return "tp" + std::to_string(std::get<0>(info.param)) + "_recompute_" + mode[int(std::get<1>(info.param))];
}

INSTANTIATE_TEST_SUITE_P(TpAndRecompute, SequenceParallel,
                         ::testing::Combine(::testing::Values(2, 4), ::testing::Values(Recompute::none,
                                                                                     Recompute::selective,
                                                                                     Recompute::full)),
                         sequence_parallel_case);

}  // namespace
}  // namespace trident::gpt
