#include "models/gpt/embedding.h"

namespace trident::gpt {

Param make_word_embeddings(const GptConfig& cfg, parallel::TpGroup tp) {
  const int64_t V = cfg.padded_vocab_size(tp.size());
  Param word = make_sharded_param("embedding.word_embeddings.weight", {V, cfg.hidden_size},
                                  ShardSpec::split(0, V, tp.rank(), tp.size()), InitKind::normal,
                                  cfg.init_method_std, true, cfg.dtype);
  if (tp.size() == 1) word.shard = ShardSpec{};
  word.unpadded_rows = cfg.vocab_size;  // padded ids are never inputs: checkpoints and exports drop them
  return word;
}

Embedding::Embedding(const GptConfig& cfg, parallel::TpGroup tp_)
    : word(make_word_embeddings(cfg, tp_)),
      position(make_param("embedding.position_embeddings.weight", {cfg.seq_length, cfg.hidden_size},
                          InitKind::normal, cfg.init_method_std, true, cfg.dtype)),
      tp(tp_) {}

void Embedding::forward(backend::Backend& be, const Tensor& tokens, Tensor& out) {
  const int64_t B = tokens.size(0), T = tokens.size(1), C = position.value.size(1);
  be.embedding_forward(tokens, word.value, vocab_start(), out);
  parallel::reduce_from_tensor_parallel_region_forward(tp, out);
  // Positions: row t of wpe added to every (b, t) row, i.e. a bias over (B, T·C).
  Tensor out_bt = out.view({B, T * C});
  be.bias_add(out_bt, position.value.slice(0, T).view({T * C}));
}

void Embedding::backward(backend::Backend& be, const Tensor& tokens, const Tensor& dout) {
  // reduce_from_tensor_parallel_region backward: identity.
  const int64_t B = tokens.size(0), T = tokens.size(1), C = position.value.size(1);
  be.embedding_backward(tokens, dout, vocab_start(), word.grad);
  Tensor dpos = position.grad.slice(0, T).view({T * C});
  be.bias_backward(dout.view({B, T * C}), dpos);
}

}  // namespace trident::gpt
