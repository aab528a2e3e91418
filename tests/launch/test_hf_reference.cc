// --export-hf's files mean what HuggingFace means: a GptModel built in
// process (every parameter perturbed, so that norm weights and biases are
// not the ones and zeros that would hide a misplaced tensor) computes its
// logits for a batch; its parameters go through the export's mapping into
// an HF directory (write_hf_export), and the PyTorch oracle computes that
// directory's logits with HF's formulas (tests/reference/gpt_reference.py
// hf-logits, float64). A Llama with grouped-query attention (the query-head
// permutation, Note [HF query heads]), and GPT-2 (the Conv1D transposes).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "checkpoint/safetensors.h"
#include "framework/backend/backend.h"
#include "framework/core/rng.h"
#include "launch/hf_checkpoint.h"
#include "models/gpt/gpt_model.h"
#include "tests/support/small_configs.h"

namespace trident::launch {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPython = "/usr/bin/python3";

// The claim tested: trident's f32 logits agree with the float64 oracle's to
// 1e-5 of their largest magnitude (‖ours − ref‖∞ / ‖ref‖∞).
constexpr double kLogitsAgreement = 1e-5;

class HfReference : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kPython) || std::system((std::string(kPython) + " -c 'import torch, numpy' 2>/dev/null").c_str()) != 0)
      GTEST_SKIP() << "Debian's python3-torch is not installed (apt-get install python3-torch)";
    dir_ = fs::temp_directory_path() / ("trident_hf_ref_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Exports a model of `cfg` and returns ‖ours − oracle‖∞ / ‖oracle‖∞ over the logits of 3 sequences.
  double relative_logits_error(const gpt::GptConfig& cfg) {
    gpt::GptModel model(cfg, /*seed=*/11);
    checkpoint::TensorMap params;
    for (Param* p : model.params()) {
      const Philox rng(5, p->name);  // ±0.05 on everything: norm weights 1 ± 0.05, biases ±0.05
      for (int64_t k = 0; k < p->value.numel(); ++k)
        p->value.set(k, p->value.item(k) + 0.05f * rng.normal(uint64_t(k)));
      const int64_t rows = p->unpadded_rows >= 0 ? p->unpadded_rows : p->value.size(0);
      params.emplace(p->name, p->value.slice(0, rows).to(DType::f32));
    }
    const int64_t B = 3, T = cfg.seq_length, V = cfg.vocab_size;
    Tensor tokens = Tensor::empty({B, T}, DType::i32);
    const Philox draw(9, "hf-reference-tokens");
    for (int64_t i = 0; i < B * T; ++i) tokens.data<int32_t>()[i] = int32_t(draw.below(uint64_t(V), uint64_t(i)));
    auto be = backend::make_cpu_backend(2);
    const Tensor ours = model.logits(*be, tokens).to(DType::f32);  // (B·T, V_padded)

    const std::string hf = (dir_ / "hf").string(), in = (dir_ / "tokens.safetensors").string(),
                      out = (dir_ / "logits.safetensors").string();
    write_hf_export(hf, cfg, params);
    checkpoint::save_safetensors(in, {{"tokens", tokens}});
    const std::string cmd = std::string(kPython) + " " + TRIDENT_SOURCE_DIR + "/tests/reference/gpt_reference.py hf-logits " +
                            hf + " " + in + " " + out;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "the oracle failed: " << cmd;
    const Tensor ref = checkpoint::load_safetensors(out).at("logits");
    EXPECT_EQ(ref.shape(), (Shape{B * T, V}));
    if (HasFailure()) return INFINITY;
    double diff = 0.0, scale = 0.0;
    for (int64_t r = 0; r < B * T; ++r)
      for (int64_t v = 0; v < V; ++v) {  // the real vocabulary: padding columns are not HF's
        const double a = ours.item(r * ours.size(1) + v), b = ref.item(r * V + v);
        diff = std::max(diff, std::abs(a - b));
        scale = std::max(scale, std::abs(b));
      }
    EXPECT_GT(scale, 0.0);
    return diff / scale;
  }

  fs::path dir_;
};

TEST_F(HfReference, LlamaWithQueryGroupsMatchesHfFormulas) {
  gpt::GptConfig cfg = test::small_gpt();  // 2 layers, 64 wide
  cfg.num_attention_heads = 8;             // in 2 groups: HF head j is trident head (j mod 4)·2 + j / 4
  cfg.group_query_attention = true;
  cfg.num_query_groups = 2;
  cfg.vocab_size = 200;  // padded to 256: the export drops the padding
  cfg.position_embedding_type = "rope";
  cfg.normalization = "RMSNorm";
  cfg.swiglu = true;
  cfg.ffn_hidden_size = 96;
  cfg.untie_embeddings_and_output_weights = true;
  cfg.disable_bias_linear = true;
  const double err = relative_logits_error(cfg);
  EXPECT_LE(err, kLogitsAgreement);
  std::printf("Llama (8 heads, 2 groups): logits within %.2e of HF's\n", err);
}

TEST_F(HfReference, TiedLlamaWithBiasesMatchesHfFormulas) {
  gpt::GptConfig cfg = test::small_llama();  // 4 heads in 2 groups
  cfg.untie_embeddings_and_output_weights = false;
  cfg.disable_bias_linear = false;
  cfg.rotary_base = 500000.f;
  cfg.norm_epsilon = 1e-6f;
  const double err = relative_logits_error(cfg);
  EXPECT_LE(err, kLogitsAgreement);
  std::printf("tied Llama with biases: logits within %.2e of HF's\n", err);
}

TEST_F(HfReference, Gpt2MatchesHfFormulas) {
  gpt::GptConfig cfg = test::small_gpt();
  cfg.ffn_hidden_size = 96;  // n_inner
  const double err = relative_logits_error(cfg);
  EXPECT_LE(err, kLogitsAgreement);
  std::printf("GPT-2: logits within %.2e of HF's\n", err);
}

}  // namespace
}  // namespace trident::launch
