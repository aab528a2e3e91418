// GptModel: embedding -> blocks -> final norm -> tied output projection ->
// cross-entropy, with explicit forward and backward over one micro-batch's
// activation context (DESIGN.md idea 1). The caller owns the context, so
// several micro-batches can be in flight and dropping one frees it.
//
// Under tensor parallelism (a TpGroup of more than one rank) every layer
// holds its shard; the output projection produces this rank's vocabulary
// slice of the logits and the loss is computed from shard statistics
// (vocab-parallel cross-entropy): the full logits never exist anywhere.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "models/gpt/embedding.h"
#include "models/gpt/layer_norm.h"
#include "models/gpt/transformer_block.h"

namespace trident::gpt {

// Everything one micro-batch's backward needs.
struct GptActivations {
  Tensor tokens;   // (B, T) i32
  Tensor targets;  // (B, T) i32
  Tensor embedded; // (B, T, C)
  std::vector<TransformerBlock::Context> blocks;
  LayerNorm::Context final_ln;  // out (B·T, C)
  Tensor probs;    // (B·T, V_padded/tp) softmax of this rank's logits
  Tensor losses;   // (B·T,) per-token loss
};

// Called with each parameter as soon as backward has finished adding to its
// gradient (data parallelism starts reducing a bucket when its last one is in).
using GradReadyHook = std::function<void(Param&)>;

class GptModel {
 public:
  // Builds the layers and initialises every parameter from (seed, global
  // name, element index): see Note [layout-invariant initialisation].
  GptModel(const GptConfig& cfg, uint64_t seed, parallel::TpGroup tp = {});

  const GptConfig& config() const { return cfg_; }
  // Every parameter once, in a fixed order (embedding, layers, final norm).
  std::vector<Param*> params();
  void zero_grad();

  // Mean cross-entropy over the B·T tokens of the micro-batch.
  float forward(backend::Backend& be, const Tensor& tokens, const Tensor& targets, GptActivations& act);
  // Back-propagates loss_grad · d(mean loss) into every parameter's main grad
  // (accumulating). loss_grad = 1/(micro-batches · dp) averages over the
  // global batch. `ready`, if given, hears of each finished gradient.
  void backward(backend::Backend& be, GptActivations& act, float loss_grad, const GradReadyHook* ready = nullptr);
  // This rank's vocabulary slice of the logits (B·T, V_padded/tp) for tokens
  // (B, T): for evaluation, sampling and tests.
  Tensor logits(backend::Backend& be, const Tensor& tokens);

 private:
  // tokens -> final-norm output in act (shared by forward and logits()).
  void forward_trunk(backend::Backend& be, const Tensor& tokens, GptActivations& act);

  GptConfig cfg_;
  parallel::TpGroup tp_;
  Embedding embedding_;
  std::vector<std::unique_ptr<TransformerBlock>> blocks_;
  LayerNorm final_ln_;
};

}  // namespace trident::gpt
