// Trainer <-> checkpoint: what a rank saves (its parameters' FP32 master
// weights and AdamW moments, as slices of the global tensors) and what it
// restores, in whatever layout it runs.
//
// Ownership: a (tp, pp) coordinate's slices are written by its DP rank 0
// (DP replicas hold identical state); a parameter replicated across TP by
// TP rank 0; the last stage's tied copy of the token table not at all (the
// first stage owns it). The token table is stored without its vocabulary
// padding, which depends on tp, so any tp can load it.
#include <chrono>
#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "launch/checkpoint_slices.h"
#include "framework/core/log.h"
#include "launch/trainer.h"

namespace trident::launch {
checkpoint::TensorSlice checkpoint_slice(const Param& p, const std::string& prefix, int64_t vocab_size) {
  checkpoint::TensorSlice s{prefix + p.name, p.global_shape, p.shard, p.value.shape()};
  if (p.name == "embedding.word_embeddings.weight") s.global_shape[0] = vocab_size;  // no padding rows
  return s;
}


nlohmann::json Trainer::checkpoint_state(int64_t iteration) const {
  const optim::LossScalerState& ls = scaler_->state();
  const dist::Layout& l = groups_->layout();
  return {{"iteration", iteration},
          {"consumed_samples", (iteration + data_offset_) * cfg_.global_batch_size},
          {"sampler", {{"seed", cfg_.seed}, {"kind", "philox(seed, sampler), counter (iteration, sample)"}}},
          {"model",
           {{"num_layers", cfg_.model.num_layers}, {"hidden_size", cfg_.model.hidden_size},
            {"num_attention_heads", cfg_.model.num_attention_heads}, {"seq_length", cfg_.model.seq_length},
            {"vocab_size", cfg_.model.vocab_size}, {"dtype", dtype_name(cfg_.model.dtype)}}},
          {"layout", {{"tp", l.tp}, {"pp", l.pp}, {"dp", l.dp}}},
          {"optimizer", {{"steps", optimizer_->steps_taken()}}},
          {"loss_scaler",
           {{"scale", ls.scale}, {"growth_tracker", ls.growth_tracker}, {"hysteresis_tracker", ls.hysteresis_tracker}}},
          {"lr_schedule", {{"iteration", iteration}, {"lr", cfg_.lr}, {"min_lr", cfg_.min_lr},
                           {"warmup_iters", cfg_.lr_warmup_iters}, {"decay_iters", cfg_.lr_decay_iters},
                           {"decay_style", cfg_.lr_decay_style}}},
          {"skipped_iterations", skipped_iterations_},
          {"data_offset", data_offset_},
          {"lr_scale", lr_scale_},
          {"flags", cfg_.to_json()}};
}

void Trainer::save(int64_t iteration) {
  const dist::Coord& c = groups_->coord();
  std::vector<checkpoint::SliceData> mine;
  if (c.dp == 0) {
    const std::vector<Param*> params = model_->params();
    for (size_t i = 0; i < params.size(); ++i) {
      const Param& p = *params[i];
      if (p.tied_copy || (p.shard.replicated() && c.tp != 0)) continue;
      auto host = [](const Tensor& t) { return t.device() == Device::cpu ? t : t.to(Device::cpu); };
      mine.push_back({checkpoint_slice(p, kCheckpointModel, cfg_.model.vocab_size), host(optimizer_->master_weights(i))});
      mine.push_back({checkpoint_slice(p, kCheckpointExpAvg, cfg_.model.vocab_size), host(optimizer_->exp_avg(i))});
      mine.push_back({checkpoint_slice(p, kCheckpointExpAvgSq, cfg_.model.vocab_size), host(optimizer_->exp_avg_sq(i))});
    }
  }
  const double trace_start = trace_clock();
  const checkpoint::SaveResult r = checkpoint::save_checkpoint(cfg_.save, iteration, mine, checkpoint_state(iteration),
                                                               cfg_.keep_last, groups_->world());
  good_checkpoints_.push_back({iteration, r.dir});  // train() saves only while healthy
  if (!cfg_.trace.empty()) trace_.span("checkpoint save", "checkpoint", trace_start, trace_clock());
  spdlog::info("checkpoint: saved iteration {} to {}: {:.1f} MB in {:.3f} s ({:.0f} MB/s)", iteration, r.dir,
               double(r.bytes) / 1e6, r.seconds, double(r.bytes) / 1e6 / r.seconds);
}

int64_t Trainer::load() {
  const std::string dir = checkpoint::find_checkpoint(cfg_.load, cfg_.load_iteration);
  const int64_t bytes = load_checkpoint(dir, !cfg_.no_load_optim && !cfg_.finetune, !cfg_.no_load_rng && !cfg_.finetune,
                                        cfg_.finetune);
  if (!cfg_.finetune) good_checkpoints_.push_back({start_iteration_, dir, !cfg_.no_load_optim, !cfg_.no_load_rng});
  return bytes;
}

int64_t Trainer::load_checkpoint(const std::string& dir, bool optim, bool data_position, bool restart_iterations) {
  checkpoint::CheckpointReader reader(dir);
  const nlohmann::json& state = reader.state();
  loaded_iteration_ = state.at("iteration").get<int64_t>();
  // The model must be the same one; the first difference is named.
  const nlohmann::json& saved = state.at("model");
  const std::pair<const char*, int64_t> ours[] = {
      {"num_layers", cfg_.model.num_layers}, {"hidden_size", cfg_.model.hidden_size},
      {"num_attention_heads", cfg_.model.num_attention_heads}, {"seq_length", cfg_.model.seq_length},
      {"vocab_size", cfg_.model.vocab_size}};
  for (const auto& [key, value] : ours) {
    const int64_t theirs = saved.at(key).get<int64_t>();
    std::string flag = std::string("--") + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    TRIDENT_USAGE_CHECK(theirs == value, "checkpoint ", reader.dir(), " holds a model with ", flag, " ", theirs,
                        ", but this run has ", flag, " ", value, ": use the checkpoint's model flags");
  }
  const std::vector<Param*> params = model_->params();
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = *params[i];
    // Start from the current values: rows the checkpoint does not store (vocabulary padding) keep them.
    Tensor master = optimizer_->master_weights(i).to(Device::cpu).clone();
    reader.read(checkpoint_slice(p, kCheckpointModel, cfg_.model.vocab_size), master);
    optimizer_->load_master_weights(i, master);
    if (!optim) continue;
    for (const auto& [prefix, target] : {std::pair{kCheckpointExpAvg, &optimizer_->exp_avg(i)},
                                         std::pair{kCheckpointExpAvgSq, &optimizer_->exp_avg_sq(i)}}) {
      Tensor moment = target->to(Device::cpu).clone();
      reader.read(checkpoint_slice(p, prefix, cfg_.model.vocab_size), moment);
      target->copy_from(moment);
    }
  }
  if (optim) {
    optimizer_->set_steps_taken(state.at("optimizer").at("steps").get<int64_t>());
    const nlohmann::json& ls = state.at("loss_scaler");
    if (cfg_.fp16)
      scaler_->restore({ls.at("scale").get<double>(), ls.at("growth_tracker").get<int64_t>(),
                        ls.at("hysteresis_tracker").get<int64_t>()});
  }
  if (!restart_iterations) {
    start_iteration_ = state.at("iteration").get<int64_t>();
    skipped_iterations_ = state.value("skipped_iterations", int64_t{0});
    lr_scale_ = state.value("lr_scale", 1.0);
    data_offset_ = state.value("data_offset", int64_t{0});
    if (data_position) {
      cfg_.seed = state.at("sampler").at("seed").get<uint64_t>();
      sampler_ = std::make_unique<data::GlobalBatchSampler>(corpus_.train_tokens(), cfg_.model.seq_length, cfg_.seed);
    }
  }
  return reader.bytes_read();
}

}  // namespace trident::launch
