#include "models/gpt/embedding.h"

namespace trident::gpt {

Param make_word_embeddings(const GptConfig& cfg, parallel::TpGroup tp, const std::string& name) {
  const int64_t V = cfg.padded_vocab_size(tp.size());
  Param word = make_sharded_param(name, {V, cfg.hidden_size},
                                  ShardSpec::split(0, V, tp.rank(), tp.size()), InitKind::normal,
                                  cfg.init_method_std, true, cfg.dtype);
  if (tp.size() == 1) word.shard = ShardSpec{};
  word.unpadded_rows = cfg.vocab_size;  // padded ids are never inputs: checkpoints and exports drop them
  return word;
}

Embedding::Embedding(const GptConfig& cfg, parallel::TpGroup tp_)
    : word(make_word_embeddings(cfg, tp_)), tp(tp_) {
  if (!cfg.rope())
    position = make_param("embedding.position_embeddings.weight", {cfg.seq_length, cfg.hidden_size}, InitKind::normal,
                          cfg.init_method_std, true, cfg.dtype);
}

std::vector<Param*> Embedding::params() {
  if (position.value.defined()) return {&word, &position};
  return {&word};
}

void Embedding::forward(backend::Backend& be, const Tensor& tokens, Tensor& out) {
  const int64_t B = tokens.size(0), T = tokens.size(1), C = word.value.size(1);
  const bool learned = position.value.defined();
  // Positions: row t of wpe added to every (b, t) row, i.e. a bias over (B, T·C).
  const Tensor positions = learned ? position.value.slice(0, T).view({T * C}) : Tensor();
  if (tp.sequence_shards() == 1) {
    be.embedding_forward(tokens, word.value, vocab_start(), out);
    parallel::reduce_from_tensor_parallel_region_forward(tp, out);
    Tensor out_bt = out.view({B, T * C});
    if (learned) be.bias_add(out_bt, positions);
    return;
  }
  // SP: positions join one rank's partial sum (B, T, C) before the
  // reduce-scatter, so they count once and no rank needs to know which
  // positions its rows hold.
  Tensor partial = Tensor::empty({B, T, C}, out.dtype(), out.device());
  be.embedding_forward(tokens, word.value, vocab_start(), partial);
  Tensor partial_bt = partial.view({B, T * C});
  if (learned && tp.rank() == 0) be.bias_add(partial_bt, positions);
  parallel::reduce_scatter_to_sequence_parallel_region_forward(tp, partial, out);
}

void Embedding::backward(backend::Backend& be, const Tensor& tokens, const Tensor& dout) {
  const int64_t B = tokens.size(0), T = tokens.size(1), C = word.value.size(1);
  // reduce_from_tensor_parallel_region backward: identity. Under SP the rows'
  // gradients are gathered: both tables see every token, as without SP.
  Tensor grad = dout;
  if (tp.sequence_shards() > 1) {
    grad = Tensor::empty({B, T, C}, dout.dtype(), dout.device());
    parallel::reduce_scatter_to_sequence_parallel_region_backward(tp, dout, grad);
  }
  be.embedding_backward(tokens, grad, vocab_start(), word.grad);
  if (!position.value.defined()) return;
  Tensor dpos = position.grad.slice(0, T).view({T * C});
  be.bias_backward(grad.view({B, T * C}), dpos);
}

}  // namespace trident::gpt
