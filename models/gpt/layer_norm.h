// LayerNorm over the hidden dimension, with learned scale and shift. Under
// sequence parallelism it runs on this rank's token rows (Note
// [sequence-parallel rows]): its weights are replicated over TP but their
// gradients cover those rows only, so they are marked for the trainer's sum.
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
  // sequence_parallel: the inputs are sequence-parallel row parts (sets Param::sequence_parallel).
  LayerNorm(const std::string& name, int64_t hidden, float eps, DType dtype, bool sequence_parallel = false);

  // x (N, C) -> ctx.out (N, C)
  void forward(backend::Backend& be, const Tensor& x, Context& ctx);
  // dout (N, C) -> dx (N, C); weight and bias grads accumulate.
  void backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx);

  Param weight, bias;  // (C,)
  float eps;
};

}  // namespace trident::gpt
