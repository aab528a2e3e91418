// Resume remembers the run: on --load, the model's shape and the training
// flags (precision, batch sizes, LR schedule, optimizer, seed, data) come
// from the checkpoint's stored flags unless the command line gives them.
// A given shape that differs is an error naming every difference; a given
// LR schedule that differs is an error unless --override-opt-param-scheduler
// or --use-checkpoint-opt-param-scheduler says which wins (as Megatron).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "launch/train_config.h"

namespace trident::launch {

// A flag's setting as the user would write it, for messages: "--num-layers 4",
// "--lr 0.003" (floats at float's precision), "--swiglu", "no --swiglu", "--data-path a b".
std::string flag_setting(const std::string& key, const nlohmann::json& value);

// Applies the checkpoint's flags (its state's "flags" and "model" objects)
// to `cfg` before validation; returns the log lines saying what came from
// where. UsageError for a shape or schedule conflict.
std::vector<std::string> take_flags_from_checkpoint(TrainConfig& cfg, const nlohmann::json& state,
                                                    const std::string& checkpoint_dir);

}  // namespace trident::launch
