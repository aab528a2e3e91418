// Causal multi-head self-attention: qkv projection, attention core, output
// projection (GPT-2's c_attn / c_proj).
#pragma once

#include "models/gpt/config.h"
#include "models/gpt/linear.h"

namespace trident::gpt {

class SelfAttention {
 public:
  struct Context {
    Tensor qkv;    // (B, T, 3C)
    Tensor probs;  // (B, heads, T, T)
    Tensor y;      // (B, T, C) heads concatenated, before the output projection
  };
  SelfAttention(const std::string& name, const GptConfig& cfg);

  // x (B, T, C) -> out (B, T, C)
  void forward(backend::Backend& be, const Tensor& x, Context& ctx, Tensor& out);
  // dout (B, T, C) -> dx (B, T, C)
  void backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx);

  Linear qkv;   // (3C, C)
  Linear proj;  // (C, C), a residual projection: init std scaled by 1/√(2·layers)
  int64_t n_heads;
};

}  // namespace trident::gpt
