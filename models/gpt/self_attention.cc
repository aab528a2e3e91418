#include "models/gpt/self_attention.h"

#include <cmath>

namespace trident::gpt {

SelfAttention::SelfAttention(const std::string& name, const GptConfig& cfg, parallel::TpGroup tp)
    : qkv(name + ".qkv", cfg.hidden_size, cfg.qkv_rows(), cfg.init_method_std, cfg.dtype, tp,
          /*blocks=*/cfg.num_attention_heads / cfg.kv_heads() + 2, cfg.bias_linear()),
      proj(name + ".proj", cfg.num_attention_heads * cfg.head_dim(), cfg.hidden_size, cfg.output_init_std(),
           cfg.dtype, tp, /*blocks=*/cfg.num_attention_heads / cfg.kv_heads(), cfg.bias_linear()),
      n_heads(cfg.num_attention_heads / tp.size()),
      n_kv_heads(cfg.kv_heads() / tp.size()),
      head_dim(cfg.head_dim()),
      rope(cfg.rope()),
      rotary_base(cfg.rotary_base) {}

std::vector<Param*> SelfAttention::params() {
  std::vector<Param*> out = qkv.params();
  for (Param* p : proj.params()) out.push_back(p);
  return out;
}

void SelfAttention::forward(backend::Backend& be, const Tensor& x, Context& ctx, Tensor& out) {
  // Under SP x and out hold Tl = T/tp rows per sequence (Note [sequence-parallel rows]); the core sees all T.
  const int64_t B = x.size(0), Tl = x.size(1), T = Tl * qkv.tp.sequence_shards(), C = x.size(2),
                QKV = qkv.weight.value.size(0), Y = n_heads * head_dim;  // local widths
  ctx.qkv = Tensor::empty({B, T, QKV}, x.dtype(), x.device());
  ctx.probs = Tensor::empty(be.attention_saved_shape(B, n_heads, n_kv_heads, T, head_dim, x.dtype()), DType::f32,
                            x.device());
  ctx.y = Tensor::empty({B, T, Y}, x.dtype(), x.device());
  Tensor qkv2d = ctx.qkv.view({B * T, QKV});
  qkv.forward(be, x.view({B * Tl, C}), qkv2d);
  if (rope) be.rope_forward(ctx.qkv, int(n_heads), int(n_kv_heads), rotary_base);
  be.attention_forward(ctx.qkv, int(n_heads), int(n_kv_heads), ctx.y, ctx.probs);
  Tensor out2d = out.view({B * Tl, C});
  proj.forward(be, ctx.y.view({B * T, Y}), out2d);
}

void SelfAttention::backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout,
                             Tensor& dx) {
  const int64_t B = x.size(0), Tl = x.size(1), T = ctx.y.size(1), C = x.size(2), Y = ctx.y.size(2),
                QKV = ctx.qkv.size(2);
  Tensor dy = Tensor::empty({B * T, Y}, x.dtype(), x.device());
  proj.backward(be, ctx.y.view({B * T, Y}), dout.view({B * Tl, C}), dy);
  Tensor probs = ctx.probs;
  if (!probs.defined()) {  // selective recompute: the probabilities again, from the kept (rotated) Q and K
    probs = Tensor::empty(be.attention_saved_shape(B, n_heads, n_kv_heads, T, head_dim, x.dtype()), DType::f32,
                          x.device());
    Tensor y = Tensor::empty({B, T, Y}, x.dtype(), x.device());
    be.attention_forward(ctx.qkv, int(n_heads), int(n_kv_heads), y, probs);
  }
  Tensor dqkv = Tensor::empty({B, T, QKV}, x.dtype(), x.device());
  be.attention_backward(dy.view({B, T, Y}), ctx.qkv, ctx.y, probs, int(n_heads), int(n_kv_heads), dqkv);
  if (rope) be.rope_backward(dqkv, int(n_heads), int(n_kv_heads), rotary_base);
  Tensor dx2d = dx.view({B * Tl, C});
  qkv.backward(be, x.view({B * Tl, C}), dqkv.view({B * T, QKV}), dx2d);
}

}  // namespace trident::gpt
