// MLP: fc1 (C -> 4C), tanh-GELU, fc2 (4C -> C) (GPT-2's c_fc / c_proj).
#pragma once

#include "models/gpt/config.h"
#include "models/gpt/linear.h"

namespace trident::gpt {

class Mlp {
 public:
  struct Context {
    Tensor fc1_out;  // (N, 4C/tp) before GELU
    Tensor act;      // (N, 4C/tp) after GELU
  };
  Mlp(const std::string& name, const GptConfig& cfg, parallel::TpGroup tp);

  // x (N, C) -> out (N, C); under SP both are this rank's rows (N/tp, C).
  void forward(backend::Backend& be, const Tensor& x, Context& ctx, Tensor& out);
  // dout (N, C) -> dx (N, C); under SP (N/tp, C).
  void backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx);

  ColumnParallelLinear fc1;  // (4C/tp, C)
  RowParallelLinear fc2;     // (C, 4C/tp), a residual projection
};

}  // namespace trident::gpt
