// Token and learned position embeddings. The token table is split by
// vocabulary rows across tensor-parallel ranks (vocab-parallel embedding):
// each rank looks up the tokens in its rows, zeros elsewhere, and the
// partial results are summed (reduce_from_tensor_parallel_region). The
// position table is replicated. The token table doubles as the output
// projection (tied weights, as GPT-2). Under sequence parallelism the
// partial results are reduce-scattered instead, each rank keeping its token
// rows (Note [sequence-parallel rows]).
#pragma once

#include "framework/backend/backend.h"
#include "framework/core/param.h"
#include "framework/parallel/sequence_parallel.h"
#include "models/gpt/config.h"

namespace trident::gpt {

// The vocab-parallel token table "embedding.word_embeddings.weight"
// (V_padded/tp, C): the embedding's, and the output layer's copy on the last
// pipeline stage.
Param make_word_embeddings(const GptConfig& cfg, parallel::TpGroup tp);
// First vocabulary row of this rank's shard of the token table.
inline int64_t vocab_start(const Param& word) { return word.shard.replicated() ? 0 : word.shard.offset; }

class Embedding {
 public:
  Embedding(const GptConfig& cfg, parallel::TpGroup tp);

  // tokens (B, T) i32 -> out (B, T, C), the same on every TP rank; under SP
  // this rank's rows (B, T/tp, C)
  void forward(backend::Backend& be, const Tensor& tokens, Tensor& out);
  // dout shaped like out: both tables' grads accumulate (the same on every TP rank).
  void backward(backend::Backend& be, const Tensor& tokens, const Tensor& dout);

  int64_t vocab_start() const { return gpt::vocab_start(word); }

  Param word;      // (V_padded/tp, C) "embedding.word_embeddings.weight"
  Param position;  // (P, C) "embedding.position_embeddings.weight"
  parallel::TpGroup tp;
};

}  // namespace trident::gpt
