#include "models/gpt/transformer_block.h"

namespace trident::gpt {
namespace {
std::string prefix(int64_t index) { return "layers." + std::to_string(index); }
}  // namespace

TransformerBlock::TransformerBlock(int64_t index, const GptConfig& cfg, parallel::TpGroup tp)
    : ln1(prefix(index) + ".ln1", cfg, tp.sequence_shards() > 1),
      attn(prefix(index) + ".attn", cfg, tp),
      ln2(prefix(index) + ".ln2", cfg, tp.sequence_shards() > 1),
      mlp(prefix(index) + ".mlp", cfg, tp),
      recompute(cfg.recompute) {}

void TransformerBlock::forward(backend::Backend& be, const Tensor& x, Context& ctx) {
  forward_all(be, x, ctx);
  if (recompute == Recompute::full) {
    // The output stays: it is the next block's input (or the stage's output).
    Context kept;
    kept.x = ctx.x;
    kept.out = ctx.out;
    ctx = std::move(kept);
  } else if (recompute == Recompute::selective) {
    ctx.attn.probs = Tensor();
  }
}

void TransformerBlock::backward(backend::Backend& be, const Context& ctx, const Tensor& dout, Tensor& dx) {
  if (ctx.h.defined()) return backward_all(be, ctx, dout, dx);
  Context again;  // full recompute: run the block again from its input
  forward_all(be, ctx.x, again);
  backward_all(be, again, dout, dx);
}

void TransformerBlock::forward_all(backend::Backend& be, const Tensor& x, Context& ctx) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  ctx.x = x;
  ln1.forward(be, x, ctx.ln1);
  ctx.h = Tensor::empty({B, T, C}, x.dtype(), x.device());
  attn.forward(be, ctx.ln1.out, ctx.attn, ctx.h);
  be.add(x, ctx.h, ctx.h);
  const Tensor h2d = ctx.h.view({B * T, C});
  ln2.forward(be, h2d, ctx.ln2);
  ctx.out = Tensor::empty({B, T, C}, x.dtype(), x.device());
  Tensor out2d = ctx.out.view({B * T, C});
  mlp.forward(be, ctx.ln2.out, ctx.mlp, out2d);
  be.add(ctx.h, ctx.out, ctx.out);
}

void TransformerBlock::backward_all(backend::Backend& be, const Context& ctx, const Tensor& dout, Tensor& dx) {
  const int64_t B = ctx.x.size(0), T = ctx.x.size(1), C = ctx.x.size(2);
  const Tensor dout2d = dout.view({B * T, C});
  // MLP branch: dh = dout + ln2ᵀ(mlpᵀ(dout))
  Tensor d_ln2 = Tensor::empty({B * T, C}, dout.dtype(), dout.device());
  mlp.backward(be, ctx.ln2.out, ctx.mlp, dout2d, d_ln2);
  Tensor dh = Tensor::empty({B * T, C}, dout.dtype(), dout.device());
  ln2.backward(be, ctx.h.view({B * T, C}), ctx.ln2, d_ln2, dh);
  be.add(dh, dout2d, dh);
  // Attention branch: dx = dh + ln1ᵀ(attnᵀ(dh))
  Tensor d_ln1 = Tensor::empty({B, T, C}, dout.dtype(), dout.device());
  attn.backward(be, ctx.ln1.out, ctx.attn, dh.view({B, T, C}), d_ln1);
  ln1.backward(be, ctx.x, ctx.ln1, d_ln1, dx);
  be.add(dx, dh, dx);
}

std::vector<Param*> TransformerBlock::params() {
  std::vector<Param*> out;
  for (auto part : {ln1.params(), attn.params(), ln2.params(), mlp.params()})
    for (Param* p : part) out.push_back(p);
  return out;
}

}  // namespace trident::gpt
