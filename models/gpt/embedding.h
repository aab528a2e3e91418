// Token embeddings, and learned position embeddings unless the model uses
// RoPE (which rotates Q and K in attention instead). The token table is split by
// vocabulary rows across tensor-parallel ranks (vocab-parallel embedding):
// each rank looks up the tokens in its rows, zeros elsewhere, and the
// partial results are summed (reduce_from_tensor_parallel_region). The
// position table is replicated. The token table doubles as the output
// projection unless --untie-embeddings-and-output-weights. Under sequence parallelism the
// partial results are reduce-scattered instead, each rank keeping its token
// rows (Note [sequence-parallel rows]).
#pragma once

#include "framework/backend/backend.h"
#include "framework/core/param.h"
#include "framework/parallel/sequence_parallel.h"
#include "models/gpt/config.h"

namespace trident::gpt {

// A vocab-parallel (V_padded/tp, C) table: "embedding.word_embeddings.weight"
// (the embedding's, and the output layer's tied copy on the last pipeline
// stage), or the untied "output_layer.weight".
Param make_word_embeddings(const GptConfig& cfg, parallel::TpGroup tp,
                           const std::string& name = "embedding.word_embeddings.weight");
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
  std::vector<Param*> params();  // word, and position when learned

  Param word;      // (V_padded/tp, C) "embedding.word_embeddings.weight"
  Param position;  // (P, C) "embedding.position_embeddings.weight"; empty with RoPE
  parallel::TpGroup tp;
};

}  // namespace trident::gpt
