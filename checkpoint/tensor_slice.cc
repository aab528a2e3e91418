#include "checkpoint/tensor_slice.h"

#include <algorithm>
#include <vector>

#include "checkpoint/hdf5_handle.h"
#include "framework/core/error.h"

namespace trident::checkpoint {

Shape TensorSlice::piece_shape() const {
  Shape s = local_shape;
  if (rows >= 0) s[0] = rows;
  return s;
}

std::string TensorSlice::dataset_name() const {
  return rows < 0 ? path : path + "@rows_" + std::to_string(first_row);
}

Shape TensorSlice::stored_shape() const {
  Shape s = piece_shape();
  // Global row of the piece's first row, where the local rows map onto global ones one to one.
  int64_t global_first = -1;
  if (shard.replicated()) global_first = first_row;
  else if (shard.dim == 0 && shard.blocks == 1) global_first = shard.offset + first_row;
  if (global_first >= 0) s[0] = std::clamp<int64_t>(global_shape[0] - global_first, 0, s[0]);
  return s;
}

void TensorSlice::select_in_global(hid_t space) const {
  const bool all_rows = first_row == 0 && piece_shape()[0] == local_shape[0];
  if (shard.replicated() && all_rows) {
    TRIDENT_LIB_CHECK(Hdf5, H5Sselect_all(space), "selecting ", path);
    return;
  }
  const size_t n = global_shape.size();
  std::vector<hsize_t> start(n, 0), stride(n, 1), count(n, 1), block(n);
  for (size_t d = 0; d < n; ++d) block[d] = hsize_t(global_shape[d]);
  const int64_t stored_rows = stored_shape()[0];
  if (!shard.replicated()) {
    // The split dimension: `blocks` runs of the stored length, one per block, `global / blocks` apart.
    const size_t d = size_t(shard.dim);
    start[d] = hsize_t(shard.offset);
    stride[d] = hsize_t(global_shape[d] / shard.blocks);
    count[d] = hsize_t(shard.blocks);
    block[d] = hsize_t(shard.blocks == 1 ? stored_shape()[d] : shard.length);
  }
  if (!all_rows) {
    // Some rows only: on dim 0 one run, inside one block when dim 0 is the split one.
    if (shard.dim == 0) {
      const int64_t block_index = first_row / shard.length, in_block = first_row % shard.length;
      TRIDENT_CHECK(in_block + stored_rows <= shard.length, "rows of ", path, " cross a block");
      start[0] = hsize_t(block_index * (global_shape[0] / shard.blocks) + shard.offset + in_block);
      stride[0] = 1;
      count[0] = 1;
    } else {
      start[0] = hsize_t(first_row);
    }
    block[0] = hsize_t(stored_rows);
  }
  for (size_t d = 0; d < n; ++d) TRIDENT_CHECK(block[d] > 0, "empty slice of ", path);
  TRIDENT_LIB_CHECK(Hdf5,
                    H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), stride.data(), count.data(), block.data()),
                    "selecting ", path);
}

nlohmann::json TensorSlice::to_json() const {
  return {{"path", path}, {"global_shape", global_shape}, {"local_shape", local_shape},
          {"dim", shard.dim}, {"offset", shard.offset}, {"length", shard.length}, {"blocks", shard.blocks},
          {"first_row", first_row}, {"rows", rows}};
}

TensorSlice TensorSlice::from_json(const nlohmann::json& j) {
  TensorSlice s;
  s.path = j.at("path").get<std::string>();
  s.global_shape = j.at("global_shape").get<Shape>();
  s.local_shape = j.at("local_shape").get<Shape>();
  s.shard = ShardSpec{j.at("dim").get<int>(), j.at("offset").get<int64_t>(), j.at("length").get<int64_t>(),
                      j.at("blocks").get<int64_t>()};
  s.first_row = j.value("first_row", int64_t{0});  // listings before the distributed optimizer: whole tensors
  s.rows = j.value("rows", int64_t{-1});
  return s;
}

}  // namespace trident::checkpoint
