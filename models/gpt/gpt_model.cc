#include "models/gpt/gpt_model.h"

namespace trident::gpt {

GptModel::GptModel(const GptConfig& cfg, uint64_t seed, parallel::TpGroup tp)
    : cfg_(cfg), tp_(tp), embedding_((cfg.validate(tp.size()), cfg), tp),
      final_ln_("final_ln", cfg.hidden_size, cfg.layernorm_eps, cfg.dtype) {
  for (int64_t i = 0; i < cfg.num_layers; ++i) blocks_.push_back(std::make_unique<TransformerBlock>(i, cfg, tp));
  // Initialised on the host (the counter-based generator), then moved.
  for (Param* p : params()) {
    init_param(*p, seed);
    if (cfg.device != Device::cpu) {
      p->value = p->value.to(cfg.device);
      p->grad = Tensor::zeros(p->grad.shape(), DType::f32, cfg.device);
    }
  }
}

std::vector<Param*> GptModel::params() {
  std::vector<Param*> out = {&embedding_.word, &embedding_.position};
  for (auto& block : blocks_)
    for (Param* p : block->params()) out.push_back(p);
  out.push_back(&final_ln_.weight);
  out.push_back(&final_ln_.bias);
  return out;
}

void GptModel::zero_grad() {
  for (Param* p : params()) p->grad.zero_();
}

void GptModel::forward_trunk(backend::Backend& be, const Tensor& tokens, GptActivations& act) {
  const int64_t B = tokens.size(0), T = tokens.size(1), C = cfg_.hidden_size;
  TRIDENT_CHECK(T <= cfg_.seq_length, "sequence of ", T, " tokens for a model of ", cfg_.seq_length, " positions");
  act.tokens = tokens;
  act.embedded = Tensor::empty({B, T, C}, cfg_.dtype, cfg_.device);
  embedding_.forward(be, tokens, act.embedded);
  act.blocks.resize(blocks_.size());
  const Tensor* x = &act.embedded;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    blocks_[i]->forward(be, *x, act.blocks[i]);
    x = &act.blocks[i].out;
  }
  final_ln_.forward(be, x->view({B * T, C}), act.final_ln);
}

float GptModel::forward(backend::Backend& be, const Tensor& tokens, const Tensor& targets, GptActivations& act) {
  forward_trunk(be, tokens, act);
  const int64_t N = tokens.numel(), V_shard = embedding_.word.value.size(0);
  act.targets = targets;
  // copy_to_tensor_parallel_region forward: identity (final_ln.out is whole on every rank).
  act.probs = Tensor::empty({N, V_shard}, DType::f32, cfg_.device);
  be.gemm(act.final_ln.out, false, embedding_.word.value, true, act.probs);  // logits shard = x · wteᵀ
  // Vocab-parallel cross-entropy: shard statistics, reduced over TP between the pieces.
  Tensor row_max = Tensor::empty({N}, DType::f32, cfg_.device), stats = Tensor::empty({2, N}, DType::f32, cfg_.device);
  be.cross_entropy_row_max(act.probs, embedding_.vocab_start(), cfg_.vocab_size, row_max);
  parallel::all_reduce_over_tensor_parallel_region(tp_, row_max, dist::ReduceOp::max);
  be.cross_entropy_exp_sums(act.probs, row_max, targets, embedding_.vocab_start(), cfg_.vocab_size, stats);
  parallel::all_reduce_over_tensor_parallel_region(tp_, stats, dist::ReduceOp::sum);
  act.losses = Tensor::empty({N}, DType::f32, cfg_.device);
  be.cross_entropy_finish(act.probs, stats, act.losses);
  double total = 0.0;
  for (float l : act.losses.to_vector()) total += l;
  return float(total / double(N));
}

void GptModel::backward(backend::Backend& be, GptActivations& act, float loss_grad, const GradReadyHook* ready) {
  const int64_t B = act.tokens.size(0), T = act.tokens.size(1), C = cfg_.hidden_size, N = B * T;
  auto announce = [&](const std::vector<Param*>& ps) {
    if (ready)
      for (Param* p : ps) (*ready)(*p);
  };
  Tensor dlogits = act.probs;  // f32, becomes the logits' gradient in place
  be.cross_entropy_backward(dlogits, act.targets, embedding_.vocab_start(), loss_grad / float(N));
  // The loss runs in f32; the GEMMs that follow take the compute dtype (as Megatron's fp16/bf16 logits).
  if (cfg_.dtype != DType::f32) dlogits = dlogits.to(cfg_.dtype);
  Tensor dx = Tensor::empty({N, C}, cfg_.dtype, cfg_.device);
  be.gemm(dlogits, false, embedding_.word.value, false, dx);                         // (N, C), partial over TP
  parallel::copy_to_tensor_parallel_region_backward(tp_, dx);
  be.gemm(dlogits, true, act.final_ln.out, false, embedding_.word.grad, 1.f, 1.f);   // tied wte grad, first half
  const Tensor& last = blocks_.empty() ? act.embedded : act.blocks.back().out;
  Tensor dblock = Tensor::empty({B, T, C}, cfg_.dtype, cfg_.device);
  final_ln_.backward(be, last.view({N, C}), act.final_ln, dx, dblock);
  announce({&final_ln_.weight, &final_ln_.bias});
  Tensor dprev = Tensor::empty({B, T, C}, cfg_.dtype, cfg_.device);
  for (size_t i = blocks_.size(); i-- > 0;) {
    blocks_[i]->backward(be, act.blocks[i], dblock, dprev);
    announce(blocks_[i]->params());
    std::swap(dblock, dprev);
  }
  embedding_.backward(be, act.tokens, dblock);
  announce({&embedding_.word, &embedding_.position});
}

Tensor GptModel::logits(backend::Backend& be, const Tensor& tokens) {
  GptActivations act;
  forward_trunk(be, tokens, act);
  Tensor out = Tensor::empty({tokens.numel(), embedding_.word.value.size(0)}, DType::f32, cfg_.device);
  be.gemm(act.final_ln.out, false, embedding_.word.value, true, out);
  return out;
}

}  // namespace trident::gpt
