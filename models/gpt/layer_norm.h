// LayerNorm over the hidden dimension, with learned scale and shift.
#pragma once

#include "framework/backend/backend.h"
#include "framework/core/param.h"

namespace trident::gpt {

class LayerNorm {
 public:
  struct Context {
    Tensor out;   // (N, C)
    Tensor mean;  // (N,) f32
    Tensor rstd;  // (N,) f32
  };
  LayerNorm(const std::string& name, int64_t hidden, float eps, DType dtype);

  // x (N, C) -> ctx.out (N, C)
  void forward(backend::Backend& be, const Tensor& x, Context& ctx);
  // dout (N, C) -> dx (N, C); weight and bias grads accumulate.
  void backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx);

  Param weight, bias;  // (C,)
  float eps;
};

}  // namespace trident::gpt
