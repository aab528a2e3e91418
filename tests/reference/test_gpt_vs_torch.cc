// The model against PyTorch (DESIGN.md "Reference tier"): trident's GPT and
// the same GPT written in PyTorch (gpt_reference.py, float64) start from the
// same weights on the same batch; logits, loss, every parameter gradient and
// the losses of ten AdamW steps with clipping must agree.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "checkpoint/safetensors.h"
#include "framework/core/rng.h"
#include "models/gpt/gpt_model.h"
#include "optim/adamw.h"
#include "optim/grad_clip.h"
#include "tests/support/small_configs.h"

namespace trident {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

// ‖a − b‖∞ / ‖b‖∞
double rel_inf_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0, ref = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
    ref = std::max(ref, std::abs(double(b[i])));
  }
  return diff / ref;
}

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

  // The model both tests compare: 2 layers, 64 wide, 4 heads, 32 positions.
  // A batch of 4 sequences of random bytes, the same in every run.
  static void reference_batch(int64_t T, Tensor& tokens, Tensor& targets) {
    const int64_t B = 4;
    tokens = Tensor::empty({B, T}, DType::i32);
    targets = Tensor::empty({B, T}, DType::i32);
    const Philox rng(7, "reference-batch");
    for (int64_t i = 0; i < B * T; ++i) {
      tokens.data<int32_t>()[i] = int32_t(rng.below(256, uint64_t(i)));
      targets.data<int32_t>()[i] = int32_t(rng.below(256, uint64_t(i), 1));
    }
  }
  // Writes the model's weights (as f32) and the batch, runs the PyTorch
  // oracle with `flags`, returns what it wrote.
  checkpoint::TensorMap run_oracle(gpt::GptModel& model, const Tensor& tokens, const Tensor& targets,
                                   const std::string& flags) {
    checkpoint::TensorMap inputs = {{"tokens", tokens}, {"targets", targets}};
    for (Param* p : model.params()) inputs.emplace(p->name, p->value.to(DType::f32));
    const std::string in = (dir_ / "in.safetensors").string(), out = (dir_ / "out.safetensors").string();
    checkpoint::save_safetensors(in, inputs);
    const std::string cmd = std::string(kPython) + " " + TRIDENT_SOURCE_DIR + "/tests/reference/gpt_reference.py " +
                            in + " " + out + " --layers 2 --heads 4 " + flags;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "the PyTorch reference failed: " << cmd;
    return checkpoint::load_safetensors(out);
  }

  std::filesystem::path dir_;
};

TEST_F(GptVsTorch, LogitsLossGradientsAndTenAdamWSteps) {
  const gpt::GptConfig cfg = test::small_gpt(DType::f32);
  const float lr = 1e-3f, weight_decay = 0.1f, clip = 1.0f;
  const int steps = 10;

  auto be = backend::make_cpu_backend(2);
  gpt::GptModel model(cfg, /*seed=*/7);
  Tensor tokens, targets;
  reference_batch(cfg.seq_length, tokens, targets);
  const checkpoint::TensorMap torch =
      run_oracle(model, tokens, targets, "--steps 10 --lr 0.001 --weight-decay 0.1 --clip-grad 1.0");
  ASSERT_FALSE(HasFailure());

  // Logits and loss of the initial model.
  const Tensor logits = model.logits(*be, tokens);
  const double logits_err = rel_inf_error(logits.to_vector(), torch.at("logits").to_vector());
  EXPECT_LE(logits_err, 1e-4);
  gpt::GptActivations act;
  model.zero_grad();
  const float loss = model.forward(*be, tokens, targets, act);
  const double torch_loss = torch.at("loss").item(0);
  EXPECT_LE(std::abs(loss - torch_loss) / torch_loss, 1e-5) << "loss " << loss << " vs torch " << torch_loss;
  EXPECT_GT(loss, 5.0) << "an untrained byte model should start near ln 256 = 5.55";

  // Every parameter's gradient.
  model.backward(*be, act, 1.f);
  double worst_grad_err = 0.0;
  for (Param* p : model.params()) {
    const std::vector<float> ref = torch.at("grad." + p->name).to_vector();
    double ref_norm = 0.0;
    for (float v : ref) ref_norm = std::max(ref_norm, double(std::abs(v)));
    ASSERT_GT(ref_norm, 0.0) << p->name << ": torch's gradient is zero, the comparison would prove nothing";
    const double err = rel_inf_error(p->grad.to_vector(), ref);
    worst_grad_err = std::max(worst_grad_err, err);
    EXPECT_LE(err, 1e-4) << "gradient of " << p->name;
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
    EXPECT_LE(std::abs(l - ref) / ref, 1e-5) << "step " << s + 1 << ": loss " << l << " vs torch " << ref;
  }
  EXPECT_LT(torch_losses.item(steps - 1), torch_losses.item(0)) << "ten steps should lower the loss";
  std::printf("vs torch (float64): logits %.2e, loss %.2e, worst gradient %.2e, worst AdamW-step loss %.2e\n",
              logits_err, std::abs(loss - torch_loss) / torch_loss, worst_grad_err, worst_step_err);
}

// bf16 compute (activations and weights in bfloat16, f32 statistics and
// loss) against PyTorch's CPU autocast to bfloat16 on the same bf16 weights:
// the two round at different places, so they agree to bf16 precision.
TEST_F(GptVsTorch, Bf16LogitsAndLossAgainstAutocast) {
  const gpt::GptConfig cfg = test::small_gpt(DType::bf16);
  auto be = backend::make_cpu_backend(2);
  gpt::GptModel model(cfg, 7);
  Tensor tokens, targets;
  reference_batch(cfg.seq_length, tokens, targets);
  // The weights go out as the exact f32 values of their bf16 roundings.
  const checkpoint::TensorMap torch = run_oracle(model, tokens, targets, "--autocast-bf16");
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
