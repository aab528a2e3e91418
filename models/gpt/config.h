// GptConfig: the shape of a GPT-2-style model (learned positions, pre-LN,
// 4h MLP with tanh-GELU, tied input/output embedding, biases everywhere).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/tensor.h"

namespace trident::gpt {

// Activation recomputation (--recompute-granularity): what a block keeps
// from forward to backward. none: everything; selective: all but the
// attention probabilities (B, heads, T, T), recomputed from Q and K;
// full: only the block's input, the whole block recomputed in backward.
// Results are bit-identical in every mode.
enum class Recompute { none, selective, full };
Recompute recompute_from_name(const std::string& name);  // UsageError naming the choices

struct GptConfig {
  int64_t num_layers = 4;
  int64_t hidden_size = 256;
  int64_t num_attention_heads = 4;
  int64_t seq_length = 256;   // also the number of learned positions
  int64_t vocab_size = 256;
  // The embedding table is padded to a multiple of this × tp so it splits
  // evenly (Megatron's --make-vocab-size-divisible-by). Padded ids are never
  // inputs and are masked out of the loss, so padding changes no result.
  int64_t make_vocab_size_divisible_by = 128;
  float layernorm_eps = 1e-5f;
  // Weights start as N(0, init_method_std²) (Megatron's --init-method-std);
  // the layers that write into the residual stream use output_init_std().
  float init_method_std = 0.02f;
  DType dtype = DType::f32;   // compute dtype of weights and activations
  Device device = Device::cpu;  // where weights and activations live (not part of the model's identity)
  Recompute recompute = Recompute::none;  // nor is this

  int64_t ffn_hidden_size() const { return 4 * hidden_size; }
  // GPT-2's scaled init of the attention and MLP output projections: σ / √(2·layers).
  float output_init_std() const;
  int64_t padded_vocab_size(int tp) const;
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Parameter count (REFERENCE.md formula, exact for this architecture).
  int64_t num_parameters() const;
  // Model FLOPs of one iteration over `batch` sequences, no recompute:
  // 72·B·s·l·h²·(1 + s/(6h) + V/(12·l·h)) (Korthikanti et al., App. A).
  double flops_per_iteration(int64_t batch) const;

  // Throws UsageError with a one-line message naming the flag to fix,
  // including sizes that tensor parallelism of degree `tp` cannot split.
  void validate(int tp = 1) const;
  std::string summary() const;

  // The checkpoint's "model" object: the architecture (what a checkpoint's
  // weights fix) by flag name, and the dtype it was trained in.
  nlohmann::json to_json() const;
  // Missing keys keep their defaults (checkpoints older than the key).
  static GptConfig from_json(const nlohmann::json& j);
  // Each architecture setting of `saved` that differs from this config, as
  // flags: {"--num-layers 2", "--num-layers 4"} (saved, this); empty when the weights fit.
  std::vector<std::pair<std::string, std::string>> architecture_differences(const GptConfig& saved) const;
};

}  // namespace trident::gpt
