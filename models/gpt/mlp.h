// MLP: fc1, activation, fc2. GPT-2: fc1 (C -> F), tanh-GELU, fc2 (F -> C)
// (c_fc / c_proj). With --swiglu fc1 has 2F rows, [gate | up] (Megatron's
// order; HF Llama's gate_proj and up_proj stacked), and the activation is
// silu(gate) · up. Under TP fc1 splits each of the two blocks, so every
// rank holds matching gate and up rows.
#pragma once

#include "models/gpt/config.h"
#include "models/gpt/linear.h"

namespace trident::gpt {

class Mlp {
 public:
  struct Context {
    Tensor fc1_out;  // (N, F/tp), with SwiGLU (N, 2F/tp): before the activation
    Tensor act;      // (N, F/tp) after it
  };
  Mlp(const std::string& name, const GptConfig& cfg, parallel::TpGroup tp);

  // x (N, C) -> out (N, C); under SP both are this rank's rows (N/tp, C).
  void forward(backend::Backend& be, const Tensor& x, Context& ctx, Tensor& out);
  // dout (N, C) -> dx (N, C); under SP (N/tp, C).
  void backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx);
  std::vector<Param*> params();

  bool swiglu;
  ColumnParallelLinear fc1;  // (F/tp, C), with SwiGLU (2F/tp, C)
  RowParallelLinear fc2;     // (C, F/tp), a residual projection
};

}  // namespace trident::gpt
