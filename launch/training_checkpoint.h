// TrainingCheckpoint: what a rank saves (its parameters' FP32 master
// weights and AdamW moments, as slices of the global tensors, and the
// RunState) and what it restores, in whatever layout it runs.
//
// Ownership: a (tp, pp) coordinate's slices are written by its DP rank 0
// (DP replicas hold identical state); a parameter replicated across TP by
// TP rank 0; the last stage's tied copy of the token table not at all (the
// first stage owns it). Padding rows are not stored (checkpoint_slices.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "checkpoint/checkpoint.h"
#include "launch/run_state.h"
#include "launch/train_step.h"
#include "launch/training_setup.h"

namespace trident::launch {

class TrainingCheckpoint {
 public:
  TrainingCheckpoint(TrainingParts& parts, TrainStep& step) : parts_(parts), step_(step) {}

  // Saves the state after `state.iteration` under --save (collective); returns where and how much.
  checkpoint::SaveResult save(const RunState& state);

  struct Restore {
    bool optimizer = true;            // AdamW moments, step count, loss scale
    bool data_position = true;        // the sampler's seed
    bool restart_iterations = false;  // --finetune: keep the iteration count and run state at zero
  };
  // Restores model and what `what` asks from the committed checkpoint `dir`
  // into this rank's parts and `state`; no communication. With the
  // distributed optimizer each rank restores its own rows of the parameters:
  // once every rank has loaded (a failed rank must not leave the others in a
  // collective), share_loaded_rows() hands them to every rank.
  // Returns the bytes read.
  int64_t load(const std::string& dir, Restore what, RunState& state);
  // --load-hf: this rank's shard of every parameter from a transformers
  // model directory (launch/hf_checkpoint.h) into the master weights, as
  // load() does with a checkpoint (padding rows keep their values; the
  // optimizer stays fresh); share_loaded_rows() after. Returns the bytes read.
  int64_t load_hf(const std::string& dir);
  // Collective after a load that succeeded on every rank: with the
  // distributed optimizer, every rank's restored rows to every rank.
  void share_loaded_rows();

 private:
  nlohmann::json state_json(const RunState& state) const;
  // The master weights (and moments if `optimizer`) of this rank's rows of every parameter.
  void read_tensors(checkpoint::CheckpointReader& reader, bool optimizer);

  TrainingParts& parts_;
  TrainStep& step_;
};

}  // namespace trident::launch
