// The model against PyTorch (DESIGN.md "Reference tier"): trident's decoder
// and the same model written in PyTorch (gpt_reference.py, float64) start
// from the same weights on the same batch; logits, loss, every parameter
// gradient and the losses of ten AdamW steps with clipping must agree.
// GPT-2 is compared with a GPT-2 written on trident's parameter names; the
// Llama pieces with HuggingFace's LlamaForCausalLM formulas, fed trident's
// tensors renamed to HF's (the fused Q|K|V split, the query heads permuted:
// Note [query groups] in models/gpt/self_attention.h).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "checkpoint/safetensors.h"
#include "framework/core/rng.h"
#include "models/gpt/gpt_model.h"
#include "optim/adamw.h"
#include "optim/grad_clip.h"
#include "tests/support/small_configs.h"

namespace trident {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

// The bounds of every config, relative to the reference: ‖ours − torch‖∞ /
// ‖torch‖∞ for logits and gradients (f32 GEMMs of K ≤ 256 through two
// blocks), |ours − torch| / torch for the mean losses.
constexpr double kLogitsAndGradientsBound = 1e-4;
constexpr double kLossBound = 1e-5;

// ‖a − b‖∞ / ‖b‖∞
double rel_inf_error(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0.0, ref = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
    ref = std::max(ref, std::abs(double(b[i])));
  }
  return diff / ref;
}

// The real rows of a parameter (Param::unpadded_rows: the token tables'
// vocabulary padding), as f32: what the oracle's model has.
Tensor real_rows(const Param& p, const Tensor& t) {
  return p.unpadded_rows >= 0 ? t.slice(0, p.unpadded_rows).to(DType::f32) : t.to(DType::f32);
}

// Columns [0, cols) of an (N, ≥ cols) matrix: the logits of the real vocabulary.
std::vector<float> leading_columns(const Tensor& m, int64_t cols) {
  const std::vector<float> all = m.to_vector();
  const int64_t width = m.size(1);
  std::vector<float> out;
  for (int64_t n = 0; n < m.size(0); ++n)
    out.insert(out.end(), all.begin() + n * width, all.begin() + n * width + cols);
  return out;
}

// Which PyTorch model the oracle runs (gpt_reference.py).
enum class Oracle {
  gpt2,  // gpt_loss: GPT-2 on trident's names (the config must be GPT-2's)
  hf,    // HF's Llama formulas on the renamed tensors, for any config (--config)
};

class GptVsTorch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kPython) ||
        std::system((std::string(kPython) + " -c 'import torch, numpy' 2>/dev/null").c_str()) != 0)
      GTEST_SKIP() << "Debian's python3-torch is not installed (apt-get install python3-torch)";
    dir_ = std::filesystem::temp_directory_path() / ("trident_ref_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // A batch of 4 sequences of T random tokens below `vocab`, the same in
  // every run (bytes for the 256-token models).
  static void reference_batch(int64_t T, int64_t vocab, Tensor& tokens, Tensor& targets) {
    const int64_t B = 4;
    tokens = Tensor::empty({B, T}, DType::i32);
    targets = Tensor::empty({B, T}, DType::i32);
    const Philox rng(7, "reference-batch");
    for (int64_t i = 0; i < B * T; ++i) {
      tokens.data<int32_t>()[i] = int32_t(rng.below(uint64_t(vocab), uint64_t(i)));
      targets.data<int32_t>()[i] = int32_t(rng.below(uint64_t(vocab), uint64_t(i), 1));
    }
  }
  // How the oracle is told the model: GPT-2's sizes, or the whole config as
  // the JSON a checkpoint holds (GptConfig::to_json()).
  std::string model_flags(const gpt::GptConfig& cfg, Oracle oracle) {
    if (oracle == Oracle::gpt2)
      return "--layers " + std::to_string(cfg.num_layers) + " --heads " + std::to_string(cfg.num_attention_heads);
    const std::filesystem::path path = dir_ / "config.json";
    std::ofstream(path) << cfg.to_json().dump();
    return "--config " + path.string();
  }
  // Writes the model's weights (as f32, the real vocabulary rows) and the
  // batch, runs the PyTorch oracle with `flags`, returns what it wrote.
  checkpoint::TensorMap run_oracle(gpt::GptModel& model, const Tensor& tokens, const Tensor& targets, Oracle oracle,
                                   const std::string& flags) {
    checkpoint::TensorMap inputs = {{"tokens", tokens}, {"targets", targets}};
    for (Param* p : model.params()) inputs.emplace(p->name, real_rows(*p, p->value));
    const std::string in = (dir_ / "in.safetensors").string(), out = (dir_ / "out.safetensors").string();
    checkpoint::save_safetensors(in, inputs);
    const std::string cmd = std::string(kPython) + " " + TRIDENT_SOURCE_DIR + "/tests/reference/gpt_reference.py " +
                            in + " " + out + " " + model_flags(model.config(), oracle) + " " + flags;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "the PyTorch reference failed: " << cmd;
    return checkpoint::load_safetensors(out);
  }
  // Logits, loss, every gradient and ten AdamW steps of `cfg` against the oracle.
  void expect_training_agrees(const gpt::GptConfig& cfg, Oracle oracle);

  std::filesystem::path dir_;
};

void GptVsTorch::expect_training_agrees(const gpt::GptConfig& cfg, Oracle oracle) {
  const float lr = 1e-3f, weight_decay = 0.1f, clip = 1.0f;
  const int steps = 10;
  const int64_t V = cfg.vocab_size;

  auto be = backend::make_cpu_backend(2);
  gpt::GptModel model(cfg, /*seed=*/7);
  Tensor tokens, targets;
  reference_batch(cfg.seq_length, V, tokens, targets);
  const checkpoint::TensorMap torch =
      run_oracle(model, tokens, targets, oracle, "--steps 10 --lr 0.001 --weight-decay 0.1 --clip-grad 1.0");
  ASSERT_FALSE(HasFailure());

  // Logits and loss of the initial model (the padded vocabulary's logits are no one's).
  const Tensor logits = model.logits(*be, tokens);
  const double logits_err = rel_inf_error(leading_columns(logits, V), torch.at("logits").to_vector());
  EXPECT_LE(logits_err, kLogitsAndGradientsBound);
  gpt::GptActivations act;
  model.zero_grad();
  const float loss = model.forward(*be, tokens, targets, act);
  const double torch_loss = torch.at("loss").item(0);
  EXPECT_LE(std::abs(loss - torch_loss) / torch_loss, kLossBound) << "loss " << loss << " vs torch " << torch_loss;
  EXPECT_GT(loss, 0.9 * std::log(double(V))) << "an untrained model should start near ln V";

  // Every parameter's gradient; the padding rows' are exactly zero (their ids are no input or target).
  model.backward(*be, act, 1.f);
  double worst_grad_err = 0.0;
  for (Param* p : model.params()) {
    const std::vector<float> ref = torch.at("grad." + p->name).to_vector();
    double ref_norm = 0.0;
    for (float v : ref) ref_norm = std::max(ref_norm, double(std::abs(v)));
    ASSERT_GT(ref_norm, 0.0) << p->name << ": torch's gradient is zero, the comparison would prove nothing";
    const double err = rel_inf_error(real_rows(*p, p->grad).to_vector(), ref);
    worst_grad_err = std::max(worst_grad_err, err);
    EXPECT_LE(err, kLogitsAndGradientsBound) << "gradient of " << p->name;
    if (p->unpadded_rows >= 0)
      for (float g : p->grad.slice(p->unpadded_rows, p->grad.size(0)).to_vector())
        ASSERT_EQ(g, 0.f) << p->name << ": a padding row has a gradient";
  }

  // Ten AdamW steps with clipping on the same batch.
  optim::AdamW opt(model.params(), optim::AdamWConfig{0.9f, 0.95f, 1e-8f, weight_decay});
  const Tensor torch_losses = torch.at("step_losses");
  double worst_step_err = 0.0;
  for (int s = 0; s < steps; ++s) {
    model.zero_grad();
    gpt::GptActivations a;
    const float l = model.forward(*be, tokens, targets, a);
    model.backward(*be, a, 1.f);
    optim::clip_grad_norm(*be, model.params(), clip);
    opt.step(*be, lr);
    const double ref = torch_losses.item(s);
    worst_step_err = std::max(worst_step_err, std::abs(l - ref) / ref);
    EXPECT_LE(std::abs(l - ref) / ref, kLossBound) << "step " << s + 1 << ": loss " << l << " vs torch " << ref;
  }
  EXPECT_LT(torch_losses.item(steps - 1), torch_losses.item(0)) << "ten steps should lower the loss";
  std::printf("%s\nvs torch (float64): logits %.2e, loss %.2e, worst gradient %.2e, worst AdamW-step loss %.2e\n",
              cfg.summary().c_str(), logits_err, std::abs(loss - torch_loss) / torch_loss, worst_grad_err,
              worst_step_err);
}

TEST_F(GptVsTorch, LogitsLossGradientsAndTenAdamWSteps) {
  expect_training_agrees(test::small_gpt(DType::f32), Oracle::gpt2);
}

// Llama: RoPE, RMSNorm, SwiGLU, 4 query heads in 2 key/value groups, untied, no biases.
TEST_F(GptVsTorch, LlamaLogitsLossGradientsAndTenAdamWSteps) {
  expect_training_agrees(test::small_llama(DType::f32), Oracle::hf);
}

// The pieces mixed otherwise: RoPE with LayerNorm and SwiGLU, one key/value
// head for all four query heads (multi-query), biases, tied embeddings, and a
// vocabulary of 250 padded to 256.
TEST_F(GptVsTorch, RopeLayerNormSwigluMultiQueryLogitsLossGradientsAndTenAdamWSteps) {
  gpt::GptConfig cfg = test::small_llama(DType::f32);
  cfg.normalization = "LayerNorm";
  cfg.num_query_groups = 1;
  cfg.disable_bias_linear = false;
  cfg.untie_embeddings_and_output_weights = false;
  cfg.vocab_size = 250;
  ASSERT_EQ(cfg.padded_vocab_size(1), 256);
  expect_training_agrees(cfg, Oracle::hf);
}

// And learned positions with RMSNorm, the 4h GELU MLP, 2 key/value groups,
// an untied output layer and no biases, its vocabulary padded too.
TEST_F(GptVsTorch, LearnedRmsNormGeluGroupedLogitsLossGradientsAndTenAdamWSteps) {
  gpt::GptConfig cfg = test::small_llama(DType::f32);
  cfg.position_embedding_type = "learned_absolute";
  cfg.swiglu = false;
  cfg.ffn_hidden_size = 0;
  cfg.vocab_size = 200;
  ASSERT_EQ(cfg.padded_vocab_size(1), 256);
  expect_training_agrees(cfg, Oracle::hf);
}

// bf16 compute (activations and weights in bfloat16, f32 statistics and
// loss) against PyTorch's CPU autocast to bfloat16 on the same bf16 weights:
// the two round at different places, so they agree to bf16 precision.
TEST_F(GptVsTorch, Bf16LogitsAndLossAgainstAutocast) {
  const gpt::GptConfig cfg = test::small_gpt(DType::bf16);
  auto be = backend::make_cpu_backend(2);
  gpt::GptModel model(cfg, 7);
  Tensor tokens, targets;
  reference_batch(cfg.seq_length, cfg.vocab_size, tokens, targets);
  // The weights go out as the exact f32 values of their bf16 roundings.
  const checkpoint::TensorMap torch = run_oracle(model, tokens, targets, Oracle::gpt2, "--autocast-bf16");
  ASSERT_FALSE(HasFailure());
  const double logits_err = rel_inf_error(model.logits(*be, tokens).to_vector(), torch.at("logits").to_vector());
  gpt::GptActivations act;
  const float loss = model.forward(*be, tokens, targets, act);
  const double torch_loss = torch.at("loss").item(0);
  const double loss_err = std::abs(loss - torch_loss) / torch_loss;
  std::printf("bf16 vs torch autocast bf16: logits %.2e, loss %.2e (loss %.5f vs %.5f)\n", logits_err, loss_err,
              loss, torch_loss);
  EXPECT_LE(logits_err, 1e-2) << "the bf16 row of the tolerance table";
  EXPECT_LE(loss_err, 1e-2);
}

}  // namespace
}  // namespace trident
