#include "models/gpt/self_attention.h"

#include <cmath>

namespace trident::gpt {

SelfAttention::SelfAttention(const std::string& name, const GptConfig& cfg, parallel::TpGroup tp)
    : qkv(name + ".qkv", cfg.hidden_size, 3 * cfg.hidden_size, cfg.init_method_std, cfg.dtype, tp, /*blocks=*/3),
      proj(name + ".proj", cfg.hidden_size, cfg.hidden_size, cfg.output_init_std(),
           cfg.dtype, tp),
      n_heads(cfg.num_attention_heads / tp.size()) {}

void SelfAttention::forward(backend::Backend& be, const Tensor& x, Context& ctx, Tensor& out) {
  // Under SP x and out hold Tl = T/tp rows per sequence (Note [sequence-parallel rows]); the core sees all T.
  const int64_t B = x.size(0), Tl = x.size(1), T = Tl * qkv.tp.sequence_shards(), C = x.size(2),
                Cl = qkv.weight.value.size(0) / 3;  // Cl = C/tp
  ctx.qkv = Tensor::empty({B, T, 3 * Cl}, x.dtype(), x.device());
  ctx.probs = Tensor::empty(be.attention_saved_shape(B, n_heads, T, Cl / n_heads, x.dtype()), DType::f32, x.device());
  ctx.y = Tensor::empty({B, T, Cl}, x.dtype(), x.device());
  Tensor qkv2d = ctx.qkv.view({B * T, 3 * Cl});
  qkv.forward(be, x.view({B * Tl, C}), qkv2d);
  be.attention_forward(ctx.qkv, int(n_heads), ctx.y, ctx.probs);
  Tensor out2d = out.view({B * Tl, C});
  proj.forward(be, ctx.y.view({B * T, Cl}), out2d);
}

void SelfAttention::backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout,
                             Tensor& dx) {
  const int64_t B = x.size(0), Tl = x.size(1), T = ctx.y.size(1), C = x.size(2), Cl = ctx.y.size(2);
  Tensor dy = Tensor::empty({B * T, Cl}, x.dtype(), x.device());
  proj.backward(be, ctx.y.view({B * T, Cl}), dout.view({B * Tl, C}), dy);
  Tensor probs = ctx.probs;
  if (!probs.defined()) {  // selective recompute: the probabilities again, from the kept Q and K
    probs = Tensor::empty(be.attention_saved_shape(B, n_heads, T, Cl / n_heads, x.dtype()), DType::f32, x.device());
    Tensor y = Tensor::empty({B, T, Cl}, x.dtype(), x.device());
    be.attention_forward(ctx.qkv, int(n_heads), y, probs);
  }
  Tensor dqkv = Tensor::empty({B, T, 3 * Cl}, x.dtype(), x.device());
  be.attention_backward(dy.view({B, T, Cl}), ctx.qkv, ctx.y, probs, int(n_heads), dqkv);
  Tensor dx2d = dx.view({B * Tl, C});
  qkv.backward(be, x.view({B * Tl, C}), dqkv.view({B * T, 3 * Cl}), dx2d);
}

}  // namespace trident::gpt
