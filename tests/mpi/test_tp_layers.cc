// Each tensor-parallel layer, forward and backward, against the same layer
// unsharded (built on every rank from the same names and seed, so its
// weights are exactly the concatenation of the shards), then the whole GPT.
// Run with tp = the number of ranks (2 and 4).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

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

}  // namespace
}  // namespace trident::gpt
