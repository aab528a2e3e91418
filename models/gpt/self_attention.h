// Causal self-attention: qkv projection, optional rotary embedding,
// attention core, output projection (GPT-2's c_attn / c_proj; Llama's
// q/k/v_proj fused, o_proj). Under tensor parallelism each rank owns
// heads/tp query heads and groups/tp key/value heads: the qkv projection is
// column-parallel, the core is local, the output projection row-parallel.
// Under sequence parallelism the qkv projection gathers the whole tokens
// and the output projection scatters them back: the core always sees whole
// sequences (so RoPE's positions are 0..T-1 on every rank).
//
// Note [query groups]
// With grouped-query attention (G key/value heads for H query heads) the
// fused weight's rows are Q (H·D) | K (G·D) | V (G·D), and query head h
// attends with key/value head h mod G. Read as H/G + 2 equal blocks of G·D
// rows, every block splits over TP like the Q|K|V thirds of GPT-2's weight:
// rank r takes heads [r·G/tp, (r+1)·G/tp) of every block, which are exactly
// the query heads that use its key/value heads (their h mod G lies in its
// range), so the local weight is again Q | K | V with the same rule. The
// output projection's input columns split in the same H/G blocks. With
// G = H this is GPT-2's layout (3 blocks). HuggingFace's Llama pairs query
// head h with group h / (H/G) instead; the HF export and import permute
// the query heads (launch/hf_checkpoint.h), which changes no result.
#pragma once

#include "models/gpt/config.h"
#include "models/gpt/linear.h"

namespace trident::gpt {

class SelfAttention {
 public:
  struct Context {
    Tensor qkv;    // (B, T, (H+2G)·D/tp) this rank's heads of Q | K | V, RoPE applied
    Tensor probs;  // attention_forward's saved state (Backend::attention_saved_shape); undefined under selective recompute
    Tensor y;      // (B, T, H·D/tp) this rank's heads concatenated, before the output projection
  };
  SelfAttention(const std::string& name, const GptConfig& cfg, parallel::TpGroup tp);

  // x (B, T, C) -> out (B, T, C); under SP both are this rank's rows (B, T/tp, C).
  void forward(backend::Backend& be, const Tensor& x, Context& ctx, Tensor& out);
  // dout (B, T, C) -> dx (B, T, C); under SP (B, T/tp, C).
  void backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx);
  std::vector<Param*> params();

  ColumnParallelLinear qkv;  // ((H+2G)·D/tp, C): Note [query groups]
  RowParallelLinear proj;    // (C, H·D/tp), a residual projection: init std scaled by 1/√(2·layers)
  int64_t n_heads;           // query heads on this rank: H/tp
  int64_t n_kv_heads;        // key/value heads on this rank: G/tp
  int64_t head_dim;          // D
  bool rope;
  float rotary_base;
};

}  // namespace trident::gpt
