// How a parameter is stored in a checkpoint: its slice of the global tensor
// "<prefix><name>" (prefixes: model/, optim/exp_avg/, optim/exp_avg_sq/).
// Padding rows (Param::unpadded_rows: the token table's vocabulary padding,
// which depends on tp) are not stored, so any layout can load the tensor.
// Shared by the trainer and trident-generate.
#pragma once

#include <string>
#include <vector>

#include "checkpoint/tensor_slice.h"
#include "framework/core/param.h"

namespace trident::launch {

inline constexpr const char* kCheckpointModel = "model/";
inline constexpr const char* kCheckpointExpAvg = "optim/exp_avg/";
inline constexpr const char* kCheckpointExpAvgSq = "optim/exp_avg_sq/";

checkpoint::TensorSlice checkpoint_slice(const Param& p, const std::string& prefix);

// Rows [first_row, first_row + rows) of p's local tensor (a distributed
// optimizer's shard), as slices that are each one box of the global tensor:
// cut where the rows cross from one block of a fused Q|K|V weight to the
// next. Each piece's rows start `row_in_shard` rows into the shard.
struct CheckpointPiece {
  checkpoint::TensorSlice slice;
  int64_t row_in_shard = 0;
};
std::vector<CheckpointPiece> checkpoint_pieces(const Param& p, const std::string& prefix, int64_t first_row,
                                               int64_t rows);

}  // namespace trident::launch
