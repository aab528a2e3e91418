// Whole-model properties that the PyTorch comparison does not cover:
// micro-batch accumulation equals one big batch, and a finite-difference
// check of the loss through every layer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "framework/core/error.h"
#include "framework/core/rng.h"
#include "models/gpt/gpt_model.h"
#include "optim/adamw.h"
#include "optim/grad_clip.h"
#include "tests/support/small_configs.h"
#include "tests/support/tolerances.h"

namespace trident::gpt {
namespace {

// The gradients of tiny() are of order 0.1 and below (the largest, of the
// residual biases, about 0.4): the f32 elementwise tolerance at that scale
// (Note [tolerances]). Splitting the batch or the stages reorders short sums.
const test::Tolerance kGradTolerance = test::tolerance(DType::f32).at_scale(0.1);

GptConfig tiny() {
  GptConfig c;
  c.num_layers = 2;
  c.hidden_size = 12;
  c.num_attention_heads = 3;
  c.seq_length = 7;
  c.vocab_size = 13;
  return c;
}

// tiny() with every Llama piece: RoPE, RMSNorm, SwiGLU, 6 query heads in 2
// key/value groups (head size 2), an untied output layer, no linear biases.
GptConfig tiny_llama() {
  GptConfig c = tiny();
  c.num_attention_heads = 6;
  return test::with_llama_pieces(c, 20, 2);
}

void random_batch(int64_t B, int64_t T, int64_t V, uint64_t seed, Tensor& tokens, Tensor& targets) {
  tokens = Tensor::empty({B, T}, DType::i32);
  targets = Tensor::empty({B, T}, DType::i32);
  const Philox rng(seed, "batch");
  for (int64_t i = 0; i < B * T; ++i) {
    tokens.data<int32_t>()[i] = int32_t(rng.below(uint64_t(V), uint64_t(i)));
    targets.data<int32_t>()[i] = int32_t(rng.below(uint64_t(V), uint64_t(i), 1));
  }
}

TEST(GptModel, TwoMicroBatchesEqualOneBatch) {
  auto be = backend::make_cpu_backend(2);
  GptModel whole(tiny(), 5), split(tiny(), 5);
  Tensor tok, tgt;
  random_batch(4, 7, 13, 1, tok, tgt);
  GptActivations a;
  whole.zero_grad();
  const float loss = whole.forward(*be, tok, tgt, a);
  whole.backward(*be, a, 1.f);
  split.zero_grad();
  float split_loss = 0.f;
  for (int64_t mb = 0; mb < 2; ++mb) {
    GptActivations act;
    split_loss += 0.5f * split.forward(*be, tok.slice(2 * mb, 2 * mb + 2), tgt.slice(2 * mb, 2 * mb + 2), act);
    split.backward(*be, act, 0.5f);
  }
  EXPECT_NEAR(split_loss, loss, 1e-6);  // the same 28 row losses summed in two halves: a few ulps of 2.6
  const auto pw = whole.params(), ps = split.params();
  for (size_t i = 0; i < pw.size(); ++i) {
    const auto gw = pw[i]->grad.to_vector(), gs = ps[i]->grad.to_vector();
    for (size_t j = 0; j < gw.size(); ++j) ASSERT_NEAR(gs[j], gw[j], kGradTolerance.bound(gw[j])) << pw[i]->name;
  }
}

// d loss / d θ by central differences for a few elements of every parameter.
class GptModelOfEachFamily : public ::testing::TestWithParam<bool> {
 protected:
  GptConfig config() const { return GetParam() ? tiny_llama() : tiny(); }
};
INSTANTIATE_TEST_SUITE_P(Family, GptModelOfEachFamily, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Llama" : "Gpt2"; });

TEST_P(GptModelOfEachFamily, GradientsMatchFiniteDifferences) {
  auto be = backend::make_cpu_backend(1);
  GptModel model(config(), 11);
  Tensor tok, tgt;
  random_batch(2, 7, 13, 2, tok, tgt);
  model.zero_grad();
  GptActivations a;
  model.forward(*be, tok, tgt, a);
  model.backward(*be, a, 1.f);
  // f32 forward: the step trades rounding noise (~1e-7 · loss / eps) against
  // truncation error (~eps² · f‴); 1e-2 was visibly biased on residual biases.
  const float eps = 1e-3f;
  for (Param* p : model.params()) {
    for (int64_t k = 0; k < 3; ++k) {
      const int64_t i = (k * 7919 + 3) % p->value.numel();
      const float orig = p->value.item(i);
      GptActivations tmp;
      p->value.set(i, orig + eps);
      const double up = model.forward(*be, tok, tgt, tmp);
      p->value.set(i, orig - eps);
      const double down = model.forward(*be, tok, tgt, tmp);
      p->value.set(i, orig);
      const double fd = (up - down) / (2.0 * eps);
      const double analytic = p->grad.item(i);
      EXPECT_NEAR(analytic, fd, 2e-4 + 2e-2 * std::abs(fd)) << p->name << "[" << i << "]";
    }
  }
}

// Exact resume and layout comparisons need the same bits from the same
// inputs: every reduction in the CPU backend has a fixed order.
TEST(GptModel, TrainingStepsAreBitwiseReproducible) {
  auto be = backend::make_cpu_backend(2);
  std::vector<std::vector<float>> finals;
  for (int run = 0; run < 2; ++run) {
    GptModel model(tiny(), 21);
    optim::AdamW opt(model.params(), {});
    for (int step = 0; step < 3; ++step) {
      Tensor tok, tgt;
      random_batch(4, 7, 13, uint64_t(step), tok, tgt);
      model.zero_grad();
      GptActivations a;
      model.forward(*be, tok, tgt, a);
      model.backward(*be, a, 1.f);
      optim::clip_grad_norm(*be, model.params(), 1.0);
      opt.step(*be, 1e-2f);
    }
    std::vector<float> all;
    for (Param* p : model.params())
      for (float v : p->value.to_vector()) all.push_back(v);
    finals.push_back(all);
  }
  ASSERT_EQ(finals[0].size(), finals[1].size());
  EXPECT_EQ(std::memcmp(finals[0].data(), finals[1].data(), finals[0].size() * sizeof(float)), 0);
}

TEST(GptModel, LlamaParameterCountAndShapes) {
  const GptConfig c = tiny_llama();
  GptModel model(c, 1);
  int64_t n = 0;
  std::map<std::string, Shape> shapes;
  for (Param* p : model.params()) n += p->value.numel(), shapes[p->name] = p->value.shape();
  const int64_t h = 12, F = 20, V = 13, Vp = 128, l = 2, D = 2, G = 2, H = 6;
  // Per layer: qkv (H+2G)·D x h, proj h x h, fc1 2F x h, fc2 h x F, two RMSNorm weights.
  const int64_t per_layer = (H + 2 * G) * D * h + h * h + 2 * F * h + h * F + 2 * h;
  EXPECT_EQ(c.num_parameters(), l * per_layer + 2 * V * h + h);
  EXPECT_EQ(n, c.num_parameters() + 2 * (Vp - V) * h);  // both tables padded
  EXPECT_EQ(shapes.at("layers.0.attn.qkv.weight"), (Shape{(H + 2 * G) * D, h}));
  EXPECT_EQ(shapes.at("layers.1.mlp.fc1.weight"), (Shape{2 * F, h}));
  EXPECT_EQ(shapes.at("output_layer.weight"), (Shape{Vp, h}));
  EXPECT_FALSE(shapes.contains("embedding.position_embeddings.weight"));
  EXPECT_FALSE(shapes.contains("final_ln.bias"));
  EXPECT_FALSE(shapes.contains("layers.0.attn.qkv.bias"));
  EXPECT_EQ(model.output_word_copy(), nullptr);
}

// FLOPs from the pieces: GPT-2's are Korthikanti et al.'s formula; SwiGLU adds a third MLP GEMM, GQA shrinks K and V.
TEST(GptConfig, FlopsCountTheChosenPieces) {
  GptConfig gpt = tiny();
  const double B = 4, s = 7, l = 2, h = 12, V = 13;
  EXPECT_NEAR(gpt.flops_per_iteration(4), 72 * B * s * l * h * h * (1 + s / (6 * h) + V / (12 * l * h)), 1e-6);
  GptConfig llama = tiny_llama();
  const double qkv = 10 * 2 * h, proj = h * h, mlp = 3 * 20 * h, attn = 2 * s * h;
  EXPECT_NEAR(llama.flops_per_iteration(4), 6 * B * s * (l * (qkv + proj + mlp + attn) + h * V), 1e-6);
}

TEST(GptModel, ParameterCountMatchesTheFormula) {
  GptModel model(tiny(), 1);
  int64_t n = 0;
  for (Param* p : model.params()) n += p->value.numel();
  // The table holds the vocabulary padded to a multiple of 128 (13 -> 128 rows).
  const int64_t padding = (tiny().padded_vocab_size(1) - tiny().vocab_size) * tiny().hidden_size;
  EXPECT_EQ(tiny().padded_vocab_size(1), 128);
  EXPECT_EQ(n, tiny().num_parameters() + padding);
  const GptConfig c = tiny();
  const double h = double(c.hidden_size), l = double(c.num_layers);
  EXPECT_NEAR(double(n - padding), 12 * l * h * h * (1 + 13 / (12 * h) + double(c.vocab_size + c.seq_length) / (12 * l * h)) + 2 * h, 1e-6);
}

TEST(GptModel, ParameterNamesAreThoseOfTheWholeModel) {
  for (GptConfig c : {tiny(), tiny_llama()}) {
    c.num_layers = 3;
    for (bool rms : {false, true})
      for (bool bias : {false, true}) {  // each piece on its own
        c.normalization = rms ? "RMSNorm" : "LayerNorm";
        c.disable_bias_linear = !bias;
        GptModel whole(c, 1);
        std::vector<std::string> names;
        for (Param* p : whole.params()) names.push_back(p->name);
        EXPECT_EQ(parameter_names(c), names) << c.summary();
      }
  }
  const GptConfig c = tiny();
  const PipelineStages stages = PipelineStages::uneven({1, 2}, 3, 2);
  EXPECT_EQ(pipeline_rank_of_parameter("embedding.word_embeddings.weight", stages), 0);
  EXPECT_EQ(pipeline_rank_of_parameter("layers.0.ln1.weight", stages), 0);
  EXPECT_EQ(pipeline_rank_of_parameter("layers.1.ln1.weight", stages), 1);
  EXPECT_EQ(pipeline_rank_of_parameter("final_ln.bias", stages), 1);
  EXPECT_EQ(pipeline_rank_of_parameter("output_layer.weight", stages), 1);
}

TEST(PipelineStages, SplitLayersOverVirtualStages) {
  const PipelineStages even = PipelineStages::even(12, 2, 3);  // 6 virtual stages of 2 layers
  EXPECT_EQ(even.layers, (std::vector<int64_t>(6, 2)));
  EXPECT_EQ(even.stage_of(1, 2), 5);
  EXPECT_EQ(even.first_layer(5), 10);
  EXPECT_EQ(even.rank_of_layer(10), 1);  // stage 5 = chunk 2 of rank 1
  EXPECT_EQ(even.rank_of_layer(4), 0);   // stage 2 = chunk 1 of rank 0
  EXPECT_THROW(PipelineStages::even(5, 2), UsageError);
  EXPECT_THROW(PipelineStages::even(2, 4), UsageError);
  EXPECT_THROW(PipelineStages::uneven({2, 2}, 5, 2), UsageError);
  EXPECT_THROW(PipelineStages::uneven({5}, 5, 2), UsageError);
}

// Two pipeline ranks' models in one process, activations handed over by
// hand: the same loss and gradients as the whole model, with the tied
// token table's gradient split between the embedding and its copy.
TEST_P(GptModelOfEachFamily, TwoStagesEqualTheWholeModel) {
  auto be = backend::make_cpu_backend(2);
  GptConfig c = config();
  c.num_layers = 3;
  const PipelineStages stages = PipelineStages::uneven({1, 2}, 3, 2);
  GptModel whole(c, 9), first(c, 9, {}, stages, 0), last(c, 9, {}, stages, 1);
  if (c.tied_output()) {
    ASSERT_NE(last.output_word_copy(), nullptr);
    EXPECT_TRUE(last.output_word_copy()->tied_copy);
  } else {
    EXPECT_EQ(last.output_word_copy(), nullptr);  // the untied output layer is the last stage's own
  }
  EXPECT_EQ(first.output_word_copy(), nullptr);
  Tensor tok, tgt;
  random_batch(2, 7, 13, 3, tok, tgt);
  GptActivations a, a0, a1;
  whole.zero_grad();
  first.zero_grad();
  last.zero_grad();
  const float loss = whole.forward(*be, tok, tgt, a);
  whole.backward(*be, a, 1.f);
  EXPECT_EQ(first.forward(*be, 0, tok, Tensor(), a0), 0.f);
  const float staged = last.forward(*be, 0, a0.output(), tgt, a1);
  EXPECT_EQ(staged, loss);
  Tensor d_boundary, unused;
  last.backward(*be, 0, a1, Tensor(), 1.f, d_boundary, nullptr);
  first.backward(*be, 0, a0, d_boundary, 1.f, unused, nullptr);
  std::map<std::string, std::vector<float>> grads;
  for (GptModel* m : {&first, &last})
    for (Param* p : m->params()) {
      auto g = p->grad.to_vector();
      auto& sum = grads[p->name];
      if (sum.empty()) sum.assign(g.size(), 0.f);
      for (size_t i = 0; i < g.size(); ++i) sum[i] += g[i];
    }
  for (Param* p : whole.params()) {
    const auto gw = p->grad.to_vector();
    ASSERT_EQ(grads.at(p->name).size(), gw.size()) << p->name;
    for (size_t j = 0; j < gw.size(); ++j)
      ASSERT_NEAR(grads.at(p->name)[j], gw[j], kGradTolerance.bound(gw[j])) << p->name;
  }
}

TEST_P(GptModelOfEachFamily, RecomputeChangesNoResult) {
  auto be = backend::make_cpu_backend(2);
  Tensor tok, tgt;
  random_batch(2, 7, 13, 4, tok, tgt);
  std::vector<std::vector<float>> reference;
  for (Recompute mode : {Recompute::none, Recompute::selective, Recompute::full}) {
    GptConfig c = config();
    c.recompute = mode;
    GptModel m(c, 2);
    GptActivations act;
    m.zero_grad();
    m.forward(*be, tok, tgt, act);
    if (mode == Recompute::full) EXPECT_FALSE(act.blocks[0].ln1.out.defined());
    if (mode != Recompute::none) EXPECT_FALSE(act.blocks[0].attn.probs.defined());
    m.backward(*be, act, 1.f);
    std::vector<std::vector<float>> grads;
    for (Param* p : m.params()) grads.push_back(p->grad.to_vector());
    if (reference.empty()) reference = grads;
    else EXPECT_EQ(grads, reference);  // bit for bit
  }
}

// The checkpoint's "model" object: written and read by the config itself,
// older checkpoints (fewer keys) keep the defaults, and every architecture
// difference is named as a flag.
TEST(GptConfig, SerialisesItselfAndNamesEveryDifference) {
  GptConfig c;
  c.num_layers = 3;
  c.hidden_size = 48;
  c.num_attention_heads = 6;
  c.seq_length = 40;
  c.vocab_size = 1000;
  c.dtype = DType::bf16;
  const GptConfig back = GptConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_TRUE(c.architecture_differences(back).empty());
  EXPECT_EQ(back.dtype, DType::bf16);
  const GptConfig old = GptConfig::from_json(nlohmann::json{{"num_layers", 3}, {"hidden_size", 48}});
  EXPECT_EQ(old.seq_length, GptConfig{}.seq_length);
  const auto diff = c.architecture_differences(old);
  ASSERT_EQ(diff.size(), 3u);  // heads, seq length, vocabulary
  EXPECT_EQ(diff[0].first, "--num-attention-heads 4");
  EXPECT_EQ(diff[0].second, "--num-attention-heads 6");
  GptConfig other_dtype = c;
  other_dtype.dtype = DType::f32;  // precision may change on resume: not the architecture
  EXPECT_TRUE(c.architecture_differences(other_dtype).empty());
  // The Llama pieces round-trip and are named as flags; a GPT-2 checkpoint (no such keys) differs by each.
  const GptConfig llama = tiny_llama();
  EXPECT_EQ(GptConfig::from_json(llama.to_json()).to_json(), llama.to_json());
  const GptConfig gpt = tiny();
  std::vector<std::string> theirs;
  for (const auto& [t, o] : llama.architecture_differences(gpt)) theirs.push_back(t + " -> " + o);
  EXPECT_EQ(theirs, (std::vector<std::string>{"no --disable-bias-linear -> --disable-bias-linear",
                                              "--ffn-hidden-size 48 -> --ffn-hidden-size 20",
                                              "no --group-query-attention -> --group-query-attention",
                                              "--normalization LayerNorm -> --normalization RMSNorm",
                                              "--num-attention-heads 3 -> --num-attention-heads 6",
                                              "no --num-query-groups -> --num-query-groups 2",
                                              "--position-embedding-type learned_absolute -> --position-embedding-type rope",
                                              "no --rotary-base -> --rotary-base 10000",
                                              "no --swiglu -> --swiglu",
                                              "no --untie-embeddings-and-output-weights -> --untie-embeddings-and-output-weights"}));
}

TEST(GptConfig, LlamaSizesAreChecked) {
  GptConfig c = tiny_llama();
  c.ffn_hidden_size = 24;
  EXPECT_NO_THROW(c.validate(2));  // 2 groups over 2 ranks
  EXPECT_THROW(c.validate(3), UsageError);  // 6 heads split 3 ways, but 2 groups do not
  try {
    c.validate(3);
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--num-query-groups 2 is not divisible by --tensor-model-parallel-size 3"),
              std::string::npos) << e.what();
  }
  c.num_query_groups = 4;  // does not divide 6 heads
  EXPECT_THROW(c.validate(1), UsageError);
  c = tiny_llama();
  c.ffn_hidden_size = 0;  // SwiGLU's default, 8h/3 rounded down to 64: 0 for h = 12
  EXPECT_THROW(c.validate(1), UsageError);
  c.hidden_size = 4096;
  c.num_attention_heads = 32;
  EXPECT_EQ(c.ffn_hidden(), 10880);  // Megatron's int((4·4096·2/3)/64)·64
}

// One init setting: every normal-initialised weight draws from --init-method-std
// (the output projections from its scaled value).
TEST(GptConfig, InitStdComesFromTheConfig) {
  GptConfig c = test::small_gpt();  // 2 layers
  c.init_method_std = 0.05f;
  GptModel m(c, 1);
  for (const Param* p : m.params()) {
    if (p->init != InitKind::normal) continue;
    const bool output = p->name.find(".proj.weight") != std::string::npos || p->name.find(".fc2.weight") != std::string::npos;
    EXPECT_FLOAT_EQ(p->init_std, output ? c.output_init_std() : 0.05f) << p->name;
  }
  EXPECT_FLOAT_EQ(c.output_init_std(), 0.05f / 2.f);
}

}  // namespace
}  // namespace trident::gpt
