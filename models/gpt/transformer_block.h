// One pre-norm transformer block (norm: LayerNorm or RMSNorm):
//   h   = x + attn(ln1(x))
//   out = h + mlp(ln2(h))
// Under sequence parallelism x, h, out and the layer norms hold this rank's
// token rows, (B, T/tp, C) (Note [sequence-parallel rows]); attention and
// the MLP gather the whole tokens inside and hand back this rank's rows.
#pragma once

#include "models/gpt/norm.h"
#include "models/gpt/mlp.h"
#include "models/gpt/self_attention.h"

namespace trident::gpt {

class TransformerBlock {
 public:
  struct Context {
    Tensor x;  // (B, T, C) the block's input, kept for backward; under SP (B, T/tp, C), as are h and out
    Norm::Context ln1;
    SelfAttention::Context attn;
    Tensor h;  // (B, T, C) after the attention residual
    Norm::Context ln2;
    Mlp::Context mlp;
    Tensor out;  // (B, T, C)
  };
  TransformerBlock(int64_t index, const GptConfig& cfg, parallel::TpGroup tp);

  // x (B, T, C) -> ctx.out (B, T, C); ctx keeps what cfg.recompute says.
  void forward(backend::Backend& be, const Tensor& x, Context& ctx);
  // dout (B, T, C) -> dx (B, T, C); recomputes what forward dropped.
  void backward(backend::Backend& be, const Context& ctx, const Tensor& dout, Tensor& dx);

  std::vector<Param*> params();

 private:
  void forward_all(backend::Backend& be, const Tensor& x, Context& ctx);  // keeps everything
  void backward_all(backend::Backend& be, const Context& ctx, const Tensor& dout, Tensor& dx);

 public:

  Norm ln1;
  SelfAttention attn;
  Norm ln2;
  Mlp mlp;
  Recompute recompute;
};

}  // namespace trident::gpt
