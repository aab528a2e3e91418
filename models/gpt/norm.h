// The normalisation over the hidden dimension that the config chooses
// (--normalization): LayerNorm, with learned scale and shift, or RMSNorm,
// with a learned scale only and no mean subtracted. Under sequence
// parallelism it runs on this rank's token rows (Note [sequence-parallel
// rows]): its weights are replicated over TP but their gradients cover those
// rows only, so they are marked for the trainer's sum.
#pragma once

#include "framework/backend/backend.h"
#include "framework/core/param.h"
#include "models/gpt/config.h"

namespace trident::gpt {

class Norm {
 public:
  struct Context {
    Tensor out;   // (N, C)
    Tensor mean;  // (N,) f32; LayerNorm only
    Tensor rstd;  // (N,) f32
  };
  // sequence_parallel: the inputs are sequence-parallel row parts (sets Param::sequence_parallel).
  Norm(const std::string& name, const GptConfig& cfg, bool sequence_parallel = false);

  // x (N, C) -> ctx.out (N, C)
  void forward(backend::Backend& be, const Tensor& x, Context& ctx);
  // dout (N, C) -> dx (N, C); weight and bias grads accumulate.
  void backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx);
  // weight, and bias for LayerNorm.
  std::vector<Param*> params();

  bool rms;    // RMSNorm rather than LayerNorm
  Param weight;  // (C,)
  Param bias;    // (C,); LayerNorm only (RMSNorm: an empty Param)
  float eps;
};

}  // namespace trident::gpt
