// GptConfig: the shape of one pre-norm decoder whose pieces the config
// chooses (Megatron-LM's flags). The defaults are GPT-2: learned positions,
// LayerNorm, 4h MLP with tanh-GELU, tied input/output embedding, biases
// everywhere. Llama-family models take RoPE, RMSNorm, SwiGLU, grouped-query
// attention, an untied output layer and no linear biases (docs/llama.md).
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
  // --position-embedding-type: learned_absolute (a (seq, C) table added to
  // the tokens) or rope (rotary embeddings of Q and K, HF's rotate-half).
  std::string position_embedding_type = "learned_absolute";
  float rotary_base = 10000.f;               // --rotary-base: θ_i = base^(−2i/D)
  std::string normalization = "LayerNorm";   // --normalization: LayerNorm or RMSNorm (no bias, no mean)
  float norm_epsilon = 1e-5f;                // --norm-epsilon
  bool swiglu = false;                       // --swiglu: silu(x·Wgᵀ) ⊙ (x·Wuᵀ) instead of GELU
  int64_t ffn_hidden_size = 0;               // --ffn-hidden-size; 0: 4h, or with SwiGLU ⌊8h/3 / 64⌋·64 (Megatron's)
  // --group-query-attention --num-query-groups G: G key/value heads shared
  // by the query heads (Note [query groups] in self_attention.h).
  bool group_query_attention = false;
  int64_t num_query_groups = 1;
  bool untie_embeddings_and_output_weights = false;  // an output layer of its own ("output_layer.weight")
  bool disable_bias_linear = false;          // no bias in the attention and MLP projections
  // Weights start as N(0, init_method_std²) (Megatron's --init-method-std);
  // the layers that write into the residual stream use output_init_std().
  float init_method_std = 0.02f;
  DType dtype = DType::f32;   // compute dtype of weights and activations
  Device device = Device::cpu;  // where weights and activations live (not part of the model's identity)
  Recompute recompute = Recompute::none;  // nor is this

  // Resolved choices.
  bool rope() const { return position_embedding_type == "rope"; }
  bool rms_norm() const { return normalization == "RMSNorm"; }
  bool tied_output() const { return !untie_embeddings_and_output_weights; }
  bool bias_linear() const { return !disable_bias_linear; }
  int64_t ffn_hidden() const;          // F: the MLP's inner width (SwiGLU's fc1 has 2F rows: gate | up)
  int64_t kv_heads() const { return group_query_attention ? num_query_groups : num_attention_heads; }  // G
  int64_t qkv_rows() const { return (num_attention_heads + 2 * kv_heads()) * head_dim(); }  // Q | K | V
  // GPT-2's scaled init of the attention and MLP output projections: σ / √(2·layers).
  float output_init_std() const;
  int64_t padded_vocab_size(int tp) const;
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Parameter count, exact for the chosen pieces (unpadded vocabulary; the
  // REFERENCE.md formula for GPT-2's).
  int64_t num_parameters() const;
  // Model FLOPs of one iteration over `batch` sequences, no recompute: 3 ×
  // the forward GEMMs' 2·m·n·k, attention counted as the full T×T square
  // (Megatron's convention). For GPT-2 this is Korthikanti et al.'s
  // 72·B·s·l·h²·(1 + s/(6h) + V/(12·l·h)).
  double flops_per_iteration(int64_t batch) const;

  // Throws UsageError with a one-line message naming the flag to fix,
  // including sizes that tensor parallelism of degree `tp` cannot split.
  void validate(int tp = 1) const;
  std::string summary() const;

  // The architecture (what a checkpoint's weights fix, and what changes
  // their meaning) by flag name without "--", resolved (ffn_hidden_size).
  nlohmann::json architecture() const;
  // The checkpoint's "model" object: architecture() and the dtype it was trained in.
  nlohmann::json to_json() const;
  // Missing keys keep their defaults (checkpoints older than the key).
  static GptConfig from_json(const nlohmann::json& j);
  // Each architecture setting of `saved` that differs from this config, as
  // flags: {"--num-layers 2", "--num-layers 4"} (saved, this); empty when the weights fit.
  std::vector<std::pair<std::string, std::string>> architecture_differences(const GptConfig& saved) const;
};

}  // namespace trident::gpt
