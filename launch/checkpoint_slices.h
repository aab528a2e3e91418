// How a parameter is stored in a checkpoint: its slice of the global tensor
// "<prefix><name>" (prefixes: model/, optim/exp_avg/, optim/exp_avg_sq/).
// Padding rows (Param::unpadded_rows: the token table's vocabulary padding,
// which depends on tp) are not stored, so any layout can load the tensor.
// Shared by the trainer and trident-generate.
#pragma once

#include <string>

#include "checkpoint/tensor_slice.h"
#include "framework/core/param.h"

namespace trident::launch {

inline constexpr const char* kCheckpointModel = "model/";
inline constexpr const char* kCheckpointExpAvg = "optim/exp_avg/";
inline constexpr const char* kCheckpointExpAvgSq = "optim/exp_avg_sq/";

checkpoint::TensorSlice checkpoint_slice(const Param& p, const std::string& prefix);

}  // namespace trident::launch
