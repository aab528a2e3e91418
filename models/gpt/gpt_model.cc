#include "models/gpt/gpt_model.h"

namespace trident::gpt {

GptModel::GptModel(const GptConfig& cfg, uint64_t seed, parallel::TpGroup tp, PipelineStages stages, int pp_rank)
    : cfg_(cfg), tp_(tp), stages_(std::move(stages)), pp_rank_(pp_rank) {
  cfg_.validate(tp.size());
  if (stages_.layers.empty()) stages_ = PipelineStages::even(cfg.num_layers, stages_.pp, stages_.chunks);
  TRIDENT_CHECK(stages_.num_layers() == cfg.num_layers && pp_rank >= 0 && pp_rank < stages_.pp,
                "pipeline stages of ", stages_.num_layers(), " layers for a model of ", cfg.num_layers,
                " (pipeline rank ", pp_rank, " of ", stages_.pp, ")");
  if (pp_rank == 0) embedding_ = std::make_unique<Embedding>(cfg, tp);
  for (int c = 0; c < stages_.chunks; ++c) {
    const int stage = stages_.stage_of(pp_rank, c);
    Chunk chunk;
    const int64_t first = stages_.first_layer(stage);
    for (int64_t i = first; i < first + stages_.layers[size_t(stage)]; ++i)
      chunk.blocks.push_back(std::make_unique<TransformerBlock>(i, cfg, tp));
    chunks_.push_back(std::move(chunk));
  }
  if (pp_rank == stages_.pp - 1) {
    final_ln_ = std::make_unique<Norm>("final_ln", cfg, tp.sequence_shards() > 1);
    if (!cfg.tied_output()) {
      output_layer_ = std::make_unique<Param>(make_word_embeddings(cfg, tp, "output_layer.weight"));
    } else if (!embedding_) {
      output_word_copy_ = std::make_unique<Param>(make_word_embeddings(cfg, tp));
      output_word_copy_->tied_copy = true;
    }
  }
  // Initialised on the host (the counter-based generator), then moved; the
  // copy of the token table draws the same values as the original.
  for (Param* p : params()) {
    init_param(*p, seed);
    if (cfg.device != Device::cpu) {
      p->value = p->value.to(cfg.device);
      p->grad = Tensor::zeros(p->grad.shape(), DType::f32, cfg.device);
    }
  }
}

std::vector<Param*> GptModel::params() {
  std::vector<Param*> out;
  if (embedding_) out = embedding_->params();
  for (Chunk& chunk : chunks_)
    for (auto& block : chunk.blocks)
      for (Param* p : block->params()) out.push_back(p);
  if (final_ln_)
    for (Param* p : final_ln_->params()) out.push_back(p);
  if (output_word_copy_) out.push_back(output_word_copy_.get());
  if (output_layer_) out.push_back(output_layer_.get());
  return out;
}

void GptModel::zero_grad() {
  for (Param* p : params()) p->grad.zero_();
}

Shape GptModel::boundary_shape(int64_t micro_batch_size) const {
  return {micro_batch_size, cfg_.seq_length / tp_.sequence_shards(), cfg_.hidden_size};
}

void GptModel::forward_trunk(backend::Backend& be, int chunk, const Tensor& input, GptActivations& act) {
  // T: whole sequences' length; Tl: the rows per sequence a stage holds (T/tp under SP).
  const int shards = tp_.sequence_shards();
  const int64_t B = input.size(0), T = is_first_stage(chunk) ? input.size(1) : input.size(1) * shards,
                Tl = T / shards, C = cfg_.hidden_size;
  TRIDENT_CHECK(T <= cfg_.seq_length, "sequence of ", T, " tokens for a model of ", cfg_.seq_length, " positions");
  TRIDENT_CHECK(T % shards == 0, "sequence parallelism over ", shards, " ranks needs a sequence of a multiple of ",
                shards, " tokens, not ", T);
  if (is_first_stage(chunk)) {
    act.tokens = input;
    act.input = Tensor::empty({B, Tl, C}, cfg_.dtype, cfg_.device);
    embedding_->forward(be, input, act.input);
  } else {
    act.input = input;
  }
  auto& blocks = chunks_[size_t(chunk)].blocks;
  act.blocks.resize(blocks.size());
  const Tensor* x = &act.input;
  for (size_t i = 0; i < blocks.size(); ++i) {
    blocks[i]->forward(be, *x, act.blocks[i]);
    x = &act.blocks[i].out;
  }
  if (is_last_stage(chunk)) final_ln_->forward(be, x->view({B * Tl, C}), act.final_ln);
}

Tensor GptModel::output_layer_input(const GptActivations& act) const {
  const Tensor& x = act.final_ln.out;  // (N/tp, C) under SP, else (N, C)
  if (tp_.sequence_shards() == 1) return x;
  // gather_from_sequence_parallel_region: the logits need every token.
  Tensor whole = Tensor::empty({x.size(0) * tp_.sequence_shards(), x.size(1)}, x.dtype(), x.device());
  parallel::gather_from_sequence_parallel_region_forward(tp_, x, whole);
  return whole;
}

float GptModel::forward(backend::Backend& be, int chunk, const Tensor& input, const Tensor& targets,
                        GptActivations& act) {
  forward_trunk(be, chunk, input, act);
  if (!is_last_stage(chunk)) return 0.f;
  Param& word = output_word();
  const int64_t N = targets.numel(), V_shard = word.value.size(0);
  act.targets = targets;
  // copy_to_tensor_parallel_region forward: identity (the output layer's input is whole on every rank).
  act.probs = Tensor::empty({N, V_shard}, DType::f32, cfg_.device);
  be.gemm(output_layer_input(act), false, word.value, true, act.probs);  // logits shard = x · wteᵀ
  // Vocab-parallel cross-entropy: shard statistics, reduced over TP between the pieces.
  Tensor row_max = Tensor::empty({N}, DType::f32, cfg_.device), stats = Tensor::empty({2, N}, DType::f32, cfg_.device);
  be.cross_entropy_row_max(act.probs, vocab_start(word), cfg_.vocab_size, row_max);
  parallel::all_reduce_over_tensor_parallel_region(tp_, row_max, dist::ReduceOp::max);
  be.cross_entropy_exp_sums(act.probs, row_max, targets, vocab_start(word), cfg_.vocab_size, stats);
  parallel::all_reduce_over_tensor_parallel_region(tp_, stats, dist::ReduceOp::sum);
  act.losses = Tensor::empty({N}, DType::f32, cfg_.device);
  be.cross_entropy_finish(act.probs, stats, act.losses);
  double total = 0.0;
  for (float l : act.losses.to_vector()) total += l;
  return float(total / double(N));
}

void GptModel::backward(backend::Backend& be, int chunk, GptActivations& act, const Tensor& dout, float loss_grad,
                        Tensor& dinput, const GradReadyHook* ready) {
  // B, Tl, the rows a stage holds (B, T/tp under SP); N, every token of the micro-batch.
  const Tensor& x0 = act.input;
  const int64_t B = x0.size(0), Tl = x0.size(1), C = cfg_.hidden_size, N = B * Tl * tp_.sequence_shards();
  auto announce = [&](const std::vector<Param*>& ps) {
    if (ready)
      for (Param* p : ps) (*ready)(*p);
  };
  Tensor dblock = dout;
  if (is_last_stage(chunk)) {
    Param& word = output_word();
    Tensor dlogits = act.probs;  // f32, becomes the logits' gradient in place
    be.cross_entropy_backward(dlogits, act.targets, vocab_start(word), loss_grad / float(N));
    // The loss runs in f32; the GEMMs that follow take the compute dtype (as Megatron's fp16/bf16 logits).
    if (cfg_.dtype != DType::f32) dlogits = dlogits.to(cfg_.dtype);
    Tensor dx = Tensor::empty({N, C}, cfg_.dtype, cfg_.device);
    // dx (N, C), partial over TP; the tied wte's gradient, output half (from the input gathered again under SP).
    be.linear_backward(dlogits, output_layer_input(act), word.value, dx, word.grad);
    Tensor dx_rows = dx;  // (B·Tl, C): the final norm's rows
    if (tp_.sequence_shards() > 1) {
      dx_rows = Tensor::empty({B * Tl, C}, cfg_.dtype, cfg_.device);
      parallel::gather_from_sequence_parallel_region_backward(tp_, dx, dx_rows);
    } else {
      parallel::copy_to_tensor_parallel_region_backward(tp_, dx);
    }
    dblock = Tensor::empty({B, Tl, C}, cfg_.dtype, cfg_.device);
    final_ln_->backward(be, act.output().view({B * Tl, C}), act.final_ln, dx_rows, dblock);
    announce(final_ln_->params());
    if (output_word_copy_) announce({output_word_copy_.get()});
    if (output_layer_) announce({output_layer_.get()});
  }
  auto& blocks = chunks_[size_t(chunk)].blocks;
  Tensor dprev = Tensor::empty({B, Tl, C}, cfg_.dtype, cfg_.device);
  for (size_t i = blocks.size(); i-- > 0;) {
    blocks[i]->backward(be, act.blocks[i], dblock, dprev);
    announce(blocks[i]->params());
    std::swap(dblock, dprev);
  }
  if (is_first_stage(chunk)) {
    embedding_->backward(be, act.tokens, dblock);
    announce(embedding_->params());
  } else {
    dinput = dblock;
  }
}

void GptModel::check_single_stage() const {
  TRIDENT_CHECK(stages_.num_stages() == 1, "whole-model forward/backward on a model split into ",
                stages_.num_stages(), " pipeline stages");
}

float GptModel::forward(backend::Backend& be, const Tensor& tokens, const Tensor& targets, GptActivations& act) {
  check_single_stage();
  return forward(be, 0, tokens, targets, act);
}

void GptModel::backward(backend::Backend& be, GptActivations& act, float loss_grad, const GradReadyHook* ready) {
  check_single_stage();
  Tensor unused;
  backward(be, 0, act, Tensor(), loss_grad, unused, ready);
}

Tensor GptModel::logits(backend::Backend& be, const Tensor& tokens) {
  check_single_stage();
  return infer(be, 0, tokens);
}

Tensor GptModel::infer(backend::Backend& be, int chunk, const Tensor& input) {
  GptActivations act;  // dropped on return
  forward_trunk(be, chunk, input, act);
  if (!is_last_stage(chunk)) return act.output();
  const Tensor x = output_layer_input(act);  // (N, C)
  Tensor out = Tensor::empty({x.size(0), output_word().value.size(0)}, DType::f32, cfg_.device);
  be.gemm(x, false, output_word().value, true, out);
  return out;
}

std::vector<std::string> parameter_names(const GptConfig& cfg) {
  std::vector<std::string> out = {"embedding.word_embeddings.weight"};
  if (!cfg.rope()) out.push_back("embedding.position_embeddings.weight");
  // The order of TransformerBlock::params(): each part's weight, then its bias if it has one.
  const bool norm_bias = !cfg.rms_norm(), linear_bias = cfg.bias_linear();
  const std::pair<const char*, bool> parts[] = {{"ln1", norm_bias},      {"attn.qkv", linear_bias},
                                                {"attn.proj", linear_bias}, {"ln2", norm_bias},
                                                {"mlp.fc1", linear_bias},  {"mlp.fc2", linear_bias}};
  for (int64_t i = 0; i < cfg.num_layers; ++i)
    for (const auto& [part, has_bias] : parts) {
      const std::string prefix = "layers." + std::to_string(i) + "." + part;
      out.push_back(prefix + ".weight");
      if (has_bias) out.push_back(prefix + ".bias");
    }
  out.push_back("final_ln.weight");
  if (norm_bias) out.push_back("final_ln.bias");
  if (!cfg.tied_output()) out.push_back("output_layer.weight");
  return out;
}

int pipeline_rank_of_parameter(const std::string& name, const PipelineStages& stages) {
  if (name.starts_with("embedding.")) return 0;
  if (name.starts_with("final_ln.") || name.starts_with("output_layer.")) return stages.pp - 1;
  TRIDENT_CHECK(name.starts_with("layers."), "no GPT parameter is called ", name);
  return stages.rank_of_layer(std::stoll(name.substr(7)));
}

}  // namespace trident::gpt
