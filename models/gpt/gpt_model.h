// GptModel: this rank's part of the decoder — embedding -> blocks -> final
// norm -> output projection (tied to the token table unless
// --untie-embeddings-and-output-weights) -> cross-entropy — with explicit forward and
// backward over one micro-batch's activation context (DESIGN.md idea 1).
// The caller owns the context, so several micro-batches can be in flight
// and dropping one frees it.
//
// Under tensor parallelism (a TpGroup of more than one rank) every layer
// holds its shard; the output projection produces this rank's vocabulary
// slice of the logits and the loss is computed from shard statistics
// (vocab-parallel cross-entropy): the full logits never exist anywhere.
//
// Under pipeline parallelism the rank holds one chunk of consecutive layers
// per virtual stage it owns (pipeline_stages.h); forward and backward work
// chunk by chunk. Virtual stage 0 embeds the tokens; the last one ends with
// the loss and needs the token table too (tied weights): when that stage
// is on another rank it keeps a copy, initialised identically and kept
// identical by summing the two gradients (Megatron's embedding group). An
// untied output layer ("output_layer.weight", vocab-parallel like the
// table) simply lives on the last stage.
//
// Under sequence parallelism (tp.sequence_shards() > 1) everything between
// the TP regions holds this rank's token rows, (B, T/tp, C) (Note
// [sequence-parallel rows]): the embedding's output, every block's input and
// output, the final norm and what passes between pipeline stages. The tied
// output projection gathers the whole (B·T, C) before the logits, so the
// loss and its value are those of the model without SP.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "models/gpt/embedding.h"
#include "models/gpt/norm.h"
#include "models/gpt/pipeline_stages.h"
#include "models/gpt/transformer_block.h"

namespace trident::gpt {

// Everything one micro-batch's backward through one chunk needs.
struct GptActivations {
  Tensor tokens;   // (B, T) i32, on virtual stage 0
  Tensor targets;  // (B, T) i32, on the last virtual stage
  Tensor input;    // (B, T, C) the chunk's input: the embedding's output on stage 0, else the previous stage's;
                   // (B, T/tp, C) under SP, as are the blocks' activations and final_ln below
  std::vector<TransformerBlock::Context> blocks;
  Norm::Context final_ln;  // out (B·T, C), under SP (B·T/tp, C); last stage
  Tensor probs;    // (B·T, V_padded/tp) softmax of this rank's logits; last stage
  Tensor losses;   // (B·T,) per-token loss; last stage
  // (B, T, C), under SP (B, T/tp, C): what the chunk hands to the next stage.
  const Tensor& output() const { return blocks.empty() ? input : blocks.back().out; }
};

// Called with each parameter as soon as backward has finished adding to its
// gradient (data parallelism starts reducing a bucket when its last one is in).
using GradReadyHook = std::function<void(Param&)>;

class GptModel {
 public:
  // Builds this rank's layers and initialises every parameter from (seed,
  // global name, element index): see Note [layout-invariant initialisation].
  // `stages` with no layer list splits the layers evenly.
  GptModel(const GptConfig& cfg, uint64_t seed, parallel::TpGroup tp = {}, PipelineStages stages = {},
           int pp_rank = 0);

  const GptConfig& config() const { return cfg_; }
  const PipelineStages& stages() const { return stages_; }
  int num_chunks() const { return int(chunks_.size()); }
  bool is_first_stage(int chunk) const { return stages_.stage_of(pp_rank_, chunk) == 0; }
  bool is_last_stage(int chunk) const { return stages_.stage_of(pp_rank_, chunk) == stages_.num_stages() - 1; }

  // This rank's parameters once each, in model order (embedding, layers,
  // final norm, then the output layer's weight or copy of the token table if any).
  std::vector<Param*> params();
  // The last stage's copy of the token table when the embedding is on
  // another rank (else null): its gradient must be summed with the first
  // stage's, and the norm must count the table once.
  Param* output_word_copy() { return output_word_copy_.get(); }
  // The embedding's token table, on the rank of virtual stage 0 (else null).
  Param* input_word_embeddings() { return embedding_ ? &embedding_->word : nullptr; }
  void zero_grad();

  // One chunk's forward. input: tokens (B, T) i32 on virtual stage 0, else
  // the previous stage's output (boundary_shape); targets (B, T) i32 on the last
  // stage. Returns the mean cross-entropy over the B·T tokens on the last
  // stage, 0 elsewhere; act.output() is what the next stage receives.
  float forward(backend::Backend& be, int chunk, const Tensor& input, const Tensor& targets, GptActivations& act);
  // One chunk's backward: accumulates loss_grad · d(mean loss) into every
  // parameter's main grad. dout: the gradient of act.output() from the next
  // stage (ignored on the last stage). Sets dinput, the gradient of the
  // input (not on stage 0). loss_grad = loss scale / (micro-batches · dp)
  // averages over the global batch. `ready`, if given, hears of each
  // finished gradient.
  void backward(backend::Backend& be, int chunk, GptActivations& act, const Tensor& dout, float loss_grad,
                Tensor& dinput, const GradReadyHook* ready = nullptr);

  // The same for a model that is a single stage (no pipeline).
  float forward(backend::Backend& be, const Tensor& tokens, const Tensor& targets, GptActivations& act);
  void backward(backend::Backend& be, GptActivations& act, float loss_grad, const GradReadyHook* ready = nullptr);
  // This rank's vocabulary slice of the logits (B·T, V_padded/tp) for tokens
  // (B, T), single-stage models only: for evaluation, sampling and tests.
  Tensor logits(backend::Backend& be, const Tensor& tokens);
  // Inference through one chunk, keeping nothing for backward: tokens
  // (B, T) on virtual stage 0 or the previous stage's output in; out the
  // chunk's output (boundary_shape), or on the last stage this rank's
  // vocabulary slice of the logits (B·T, V_padded/tp).
  Tensor infer(backend::Backend& be, int chunk, const Tensor& input);
  // What one chunk hands the next for micro-batches of B sequences:
  // (B, T, C), or this rank's rows (B, T/tp, C) under SP. T = seq_length.
  Shape boundary_shape(int64_t micro_batch_size) const;

 private:
  struct Chunk {
    std::vector<std::unique_ptr<TransformerBlock>> blocks;
  };
  // Tokens or input -> the chunk's blocks; the last stage also the final norm.
  void forward_trunk(backend::Backend& be, int chunk, const Tensor& input, GptActivations& act);
  // The output projection's (V_padded/tp, C) weight, on the last stage.
  Param& output_word() {
    return output_layer_ ? *output_layer_ : embedding_ ? embedding_->word : *output_word_copy_;
  }
  // The output projection's input (B·T, C): final_ln's output, all-gathered
  // under SP (gathered again in backward rather than kept).
  Tensor output_layer_input(const GptActivations& act) const;
  void check_single_stage() const;

  GptConfig cfg_;
  parallel::TpGroup tp_;
  PipelineStages stages_;
  int pp_rank_;
  std::unique_ptr<Embedding> embedding_;  // on the rank of virtual stage 0
  std::vector<Chunk> chunks_;
  std::unique_ptr<Norm> final_ln_;        // on the rank of the last virtual stage
  std::unique_ptr<Param> output_word_copy_;  // tied, where the last stage is not stage 0's rank
  std::unique_ptr<Param> output_layer_;      // untied: the last stage's own output weight
};

// Every global parameter name of the whole model, in model order (the
// order of a single-stage GptModel::params()).
std::vector<std::string> parameter_names(const GptConfig& cfg);
// The pipeline rank that owns a parameter (the token table: stage 0's rank).
int pipeline_rank_of_parameter(const std::string& name, const PipelineStages& stages);

}  // namespace trident::gpt
