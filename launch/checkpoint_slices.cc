#include "launch/checkpoint_slices.h"

#include <algorithm>

namespace trident::launch {

checkpoint::TensorSlice checkpoint_slice(const Param& p, const std::string& prefix) {
  checkpoint::TensorSlice s{prefix + p.name, p.global_shape, p.shard, p.value.shape()};
  if (p.unpadded_rows >= 0) s.global_shape[0] = p.unpadded_rows;
  return s;
}

std::vector<CheckpointPiece> checkpoint_pieces(const Param& p, const std::string& prefix, int64_t first_row,
                                               int64_t rows) {
  const checkpoint::TensorSlice whole = checkpoint_slice(p, prefix);
  // Local rows per block: a fused weight's blocks lie one after another along dim 0.
  const int64_t block_rows = p.shard.dim == 0 ? p.shard.length : p.value.size(0);
  std::vector<CheckpointPiece> out;
  for (int64_t row = first_row; row < first_row + rows;) {
    const int64_t end = std::min(first_row + rows, (row / block_rows + 1) * block_rows);
    CheckpointPiece piece{whole, row - first_row};
    piece.slice.first_row = row;
    piece.slice.rows = end - row;
    out.push_back(std::move(piece));
    row = end;
  }
  return out;
}

}  // namespace trident::launch
