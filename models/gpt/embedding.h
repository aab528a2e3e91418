// Token and learned position embeddings. The token table doubles as the
// output projection (tied weights, as GPT-2).
#pragma once

#include "models/gpt/config.h"
#include "framework/backend/backend.h"
#include "framework/core/param.h"

namespace trident::gpt {

class Embedding {
 public:
  explicit Embedding(const GptConfig& cfg);

  // tokens (B, T) i32 -> out (B, T, C)
  void forward(backend::Backend& be, const Tensor& tokens, Tensor& out);
  // dout (B, T, C): both tables' grads accumulate.
  void backward(backend::Backend& be, const Tensor& tokens, const Tensor& dout);

  Param word;      // (V, C) "embedding.word_embeddings.weight"
  Param position;  // (P, C) "embedding.position_embeddings.weight"
};

}  // namespace trident::gpt
