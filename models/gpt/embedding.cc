#include "models/gpt/embedding.h"

namespace trident::gpt {

Embedding::Embedding(const GptConfig& cfg)
    : word(make_param("embedding.word_embeddings.weight", {cfg.vocab_size, cfg.hidden_size}, InitKind::normal,
                      0.02f, true, cfg.dtype)),
      position(make_param("embedding.position_embeddings.weight", {cfg.seq_length, cfg.hidden_size},
                          InitKind::normal, 0.02f, true, cfg.dtype)) {}

void Embedding::forward(backend::Backend& be, const Tensor& tokens, Tensor& out) {
  be.embedding_forward(tokens, word.value, position.value, out);
}

void Embedding::backward(backend::Backend& be, const Tensor& tokens, const Tensor& dout) {
  be.embedding_backward(tokens, dout, word.grad, position.grad);
}

}  // namespace trident::gpt
