#include "launch/training_checkpoint.h"

#include "framework/core/log.h"
#include "launch/checkpoint_slices.h"
#include "launch/hf_checkpoint.h"

namespace trident::launch {
namespace {

// The global batch that keys the run's sampler (Note [layout-independent
// sampling]). Checkpoints before it was recorded trained at one batch
// throughout: consumed samples / data batches.
int64_t sampler_batch_of(const nlohmann::json& saved) {
  const nlohmann::json& sampler = saved.at("sampler");
  if (sampler.contains("batch")) return sampler.at("batch").get<int64_t>();
  const int64_t batches = saved.at("iteration").get<int64_t>() + saved.value("data_offset", int64_t{0});
  TRIDENT_USAGE_CHECK(batches > 0, "checkpoint at iteration 0 records no sampler batch");
  return saved.at("consumed_samples").get<int64_t>() / batches;
}

// Rows [first_row, first_row + rows.size(0)) of p's local tensor into `rows`,
// from `whole`, the global tensor without its padding rows (which keep `rows`' values).
void copy_local_rows(const Param& p, const Tensor& whole, int64_t first_row, Tensor& rows) {
  const int64_t width = p.value.numel() / p.value.size(0), real = whole.numel();
  float* out = rows.data<float>();
  for (int64_t k = 0; k < rows.numel(); ++k) {
    const int64_t g = p.global_index(first_row * width + k);  // padding rows lie past the real ones
    if (g < real) out[k] = whole.data<float>()[g];
  }
}

}  // namespace

nlohmann::json TrainingCheckpoint::state_json(const RunState& state) const {
  const TrainConfig& cfg = parts_.cfg;
  const optim::LossScalerState& ls = step_.scaler().state();
  const dist::Layout& l = parts_.groups->layout();
  const int64_t it = state.iteration;
  return {{"iteration", it},
          {"consumed_samples", state.consumed_samples},
          {"sampler", {{"seed", state.data_seed}, {"batch", state.sampler_batch},
                       {"kind", "philox(seed, sampler), counter (sample / batch + 1, sample mod batch)"}}},
          {"model", cfg.model.to_json()},
          // What the model reads: bytes of text, or ids of the tokenizer that made a Megatron dataset.
          {"tokenizer", parts_.tokenizes_text() ? parts_.tokenizer->describe()
                        : nlohmann::json{{"type", parts_.indexed() ? "ids" : "bytes"}}},
          {"layout", {{"tp", l.tp}, {"pp", l.pp}, {"dp", l.dp}}},
          {"optimizer", {{"steps", step_.optimizer().steps_taken()}, {"distributed", step_.distributed_optimizer()}}},
          {"loss_scaler",
           {{"scale", ls.scale}, {"growth_tracker", ls.growth_tracker}, {"hysteresis_tracker", ls.hysteresis_tracker}}},
          {"lr_schedule", {{"iteration", it}, {"lr", cfg.lr}, {"min_lr", cfg.min_lr},
                           {"warmup_iters", cfg.lr_warmup_iters}, {"decay_iters", cfg.lr_decay_iters},
                           {"decay_style", cfg.lr_decay_style}}},
          {"skipped_iterations", state.skipped_iterations},
          {"lr_scale", state.lr_scale},
          {"flags", cfg.to_json()}};
}

checkpoint::SaveResult TrainingCheckpoint::save(const RunState& state) {
  const dist::Coord& c = parts_.groups->coord();
  const bool sharded = step_.distributed_optimizer();
  std::vector<checkpoint::SliceData> mine;
  optim::AdamW& adam = step_.optimizer();
  auto host = [](const Tensor& t) { return t.device() == Device::cpu ? t : t.to(Device::cpu); };
  // Data-parallel replicas hold the same state (DP rank 0 writes it), unless
  // each holds its own rows (distributed optimizer): then each writes those.
  for (size_t i = 0; (sharded || c.dp == 0) && i < adam.num_shards(); ++i) {
    const parallel::OwnedShard& shard = adam.shard(i);
    const Param& p = *shard.param;
    if (p.tied_copy || (p.shard.replicated() && c.tp != 0)) continue;
    for (const auto& [prefix, tensor] : {std::pair<const char*, const Tensor*>{kCheckpointModel, &adam.master_weights(i)},
                                         std::pair<const char*, const Tensor*>{kCheckpointExpAvg, &adam.exp_avg(i)},
                                         std::pair<const char*, const Tensor*>{kCheckpointExpAvgSq, &adam.exp_avg_sq(i)}}) {
      if (!sharded) {
        mine.push_back({checkpoint_slice(p, prefix), host(*tensor)});
        continue;
      }
      for (const CheckpointPiece& piece : checkpoint_pieces(p, prefix, shard.first_row, shard.rows))
        mine.push_back({piece.slice, host(tensor->slice(piece.row_in_shard, piece.row_in_shard + piece.slice.rows))});
    }
  }
  return checkpoint::save_checkpoint(parts_.cfg.save, state.iteration, mine, state_json(state), parts_.cfg.keep_last,
                                     parts_.groups->world());
}

void TrainingCheckpoint::share_loaded_rows() {
  if (step_.distributed_optimizer()) step_.gather_parameters();
}

void TrainingCheckpoint::read_tensors(checkpoint::CheckpointReader& reader, bool optimizer) {
  optim::AdamW& adam = step_.optimizer();
  // This rank's rows of each tensor (all of them without the distributed optimizer), as boxes of the global tensor.
  auto read_rows = [&](const parallel::OwnedShard& shard, const char* prefix, Tensor& rows) {
    for (const CheckpointPiece& piece : checkpoint_pieces(*shard.param, prefix, shard.first_row, shard.rows)) {
      Tensor part = rows.slice(piece.row_in_shard, piece.row_in_shard + piece.slice.rows);
      reader.read(piece.slice, part);
    }
  };
  for (size_t i = 0; i < adam.num_shards(); ++i) {
    const parallel::OwnedShard& shard = adam.shard(i);
    // Start from the current values: rows the checkpoint does not store (padding) keep them.
    Tensor master = adam.master_weights(i).to(Device::cpu).clone();
    read_rows(shard, kCheckpointModel, master);
    adam.load_master_weights(i, master);
    if (!optimizer) continue;
    for (const auto& [prefix, target] :
         {std::pair{kCheckpointExpAvg, &adam.exp_avg(i)}, std::pair{kCheckpointExpAvgSq, &adam.exp_avg_sq(i)}}) {
      Tensor moment = target->to(Device::cpu).clone();
      read_rows(shard, prefix, moment);
      target->copy_from(moment);
    }
  }
}

int64_t TrainingCheckpoint::load_hf(const std::string& dir) {
  HfCheckpoint hf(dir);
  optim::AdamW& adam = step_.optimizer();
  for (size_t i = 0; i < adam.num_shards(); ++i) {
    const parallel::OwnedShard& shard = adam.shard(i);
    const Tensor whole = hf.read(parts_.cfg.model, shard.param->name);
    TRIDENT_CHECK(whole.numel() <= shape_numel(shard.param->global_shape), shard.param->name, " does not fit");
    Tensor master = adam.master_weights(i).to(Device::cpu).to(DType::f32).clone();
    copy_local_rows(*shard.param, whole, shard.first_row, master);
    adam.load_master_weights(i, master);
  }
  return hf.bytes_read();
}

int64_t TrainingCheckpoint::load(const std::string& dir, Restore what, RunState& state) {
  checkpoint::CheckpointReader reader(dir);
  const nlohmann::json& saved = reader.state();
  state.loaded_iteration = saved.at("iteration").get<int64_t>();
  // The model must be the same one; every difference is named at once.
  std::string theirs, ours;
  for (const auto& [t, o] : parts_.cfg.model.architecture_differences(gpt::GptConfig::from_json(saved.at("model")))) {
    theirs += (theirs.empty() ? "" : " and ") + t;
    ours += (ours.empty() ? "" : " and ") + o;
  }
  TRIDENT_USAGE_CHECK(theirs.empty(), "checkpoint ", reader.dir(), " holds a model with ", theirs,
                      ", but this run has ", ours, ": use the checkpoint's model flags");
  read_tensors(reader, what.optimizer);
  optim::AdamW& adam = step_.optimizer();
  if (!what.optimizer) {  // fresh moments, step count and loss scale, also when a rollback returns here
    for (size_t i = 0; i < adam.num_shards(); ++i) {
      for (Tensor* moment : {&adam.exp_avg(i), &adam.exp_avg_sq(i)})
        moment->copy_from(Tensor::zeros(moment->shape(), moment->dtype(), moment->device()));
    }
    adam.set_steps_taken(0);
    step_.scaler().restore(optim::LossScaler(parts_.cfg.loss_scaler).state());
  } else {
    adam.set_steps_taken(saved.at("optimizer").at("steps").get<int64_t>());
    const nlohmann::json& ls = saved.at("loss_scaler");
    if (parts_.cfg.fp16)
      step_.scaler().restore({ls.at("scale").get<double>(), ls.at("growth_tracker").get<int64_t>(),
                              ls.at("hysteresis_tracker").get<int64_t>()});
  }
  if (!what.restart_iterations) {
    state.iteration = state.loaded_iteration;
    state.skipped_iterations = saved.value("skipped_iterations", int64_t{0});
    state.lr_scale = saved.value("lr_scale", 1.0);
    state.consumed_samples = saved.at("consumed_samples").get<int64_t>();
    state.sampler_batch = sampler_batch_of(saved);
    if (what.data_position) state.data_seed = saved.at("sampler").at("seed").get<uint64_t>();
  }
  return reader.bytes_read();
}

}  // namespace trident::launch
