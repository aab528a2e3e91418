// Causal multi-head self-attention: qkv projection, attention core, output
// projection (GPT-2's c_attn / c_proj). Under tensor parallelism each rank
// owns heads/tp heads: the qkv projection is column-parallel, the core is
// local, the output projection row-parallel. Under sequence parallelism
// the qkv projection gathers the whole tokens and the output projection
// scatters them back: the core always sees whole sequences.
#pragma once

#include "models/gpt/config.h"
#include "models/gpt/linear.h"

namespace trident::gpt {

class SelfAttention {
 public:
  struct Context {
    Tensor qkv;    // (B, T, 3C/tp) this rank's heads of Q | K | V
    Tensor probs;  // attention_forward's saved state (Backend::attention_saved_shape); undefined under selective recompute
    Tensor y;      // (B, T, C/tp) this rank's heads concatenated, before the output projection
  };
  SelfAttention(const std::string& name, const GptConfig& cfg, parallel::TpGroup tp);

  // x (B, T, C) -> out (B, T, C); under SP both are this rank's rows (B, T/tp, C).
  void forward(backend::Backend& be, const Tensor& x, Context& ctx, Tensor& out);
  // dout (B, T, C) -> dx (B, T, C); under SP (B, T/tp, C).
  void backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx);

  ColumnParallelLinear qkv;  // (3C/tp, C): heads split across TP
  RowParallelLinear proj;    // (C, C/tp), a residual projection: init std scaled by 1/√(2·layers)
  int64_t n_heads;           // on this rank: heads / tp
};

}  // namespace trident::gpt
