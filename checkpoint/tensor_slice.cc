#include "checkpoint/tensor_slice.h"

#include <algorithm>
#include <vector>

#include "checkpoint/hdf5_handle.h"
#include "framework/core/error.h"

namespace trident::checkpoint {

Shape TensorSlice::stored_shape() const {
  Shape s = local_shape;
  if (shard.replicated()) s[0] = std::min(local_shape[0], global_shape[0]);
  else if (shard.dim == 0 && shard.blocks == 1) s[0] = std::clamp<int64_t>(global_shape[0] - shard.offset, 0, local_shape[0]);
  return s;
}

void TensorSlice::select_in_global(hid_t space) const {
  if (shard.replicated()) {
    TRIDENT_LIB_CHECK(Hdf5, H5Sselect_all(space), "selecting ", path);
    return;
  }
  // Every dimension whole, but the split one: `blocks` runs of the stored
  // length, one per block, `global / blocks` apart.
  const size_t n = global_shape.size();
  std::vector<hsize_t> start(n, 0), stride(n, 1), count(n, 1), block(n);
  for (size_t d = 0; d < n; ++d) block[d] = hsize_t(global_shape[d]);
  const size_t d = size_t(shard.dim);
  start[d] = hsize_t(shard.offset);
  stride[d] = hsize_t(global_shape[d] / shard.blocks);
  count[d] = hsize_t(shard.blocks);
  block[d] = hsize_t(shard.blocks == 1 ? stored_shape()[d] : shard.length);
  TRIDENT_CHECK(block[d] > 0, "empty slice of ", path);
  TRIDENT_LIB_CHECK(Hdf5,
                    H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), stride.data(), count.data(), block.data()),
                    "selecting ", path);
}

nlohmann::json TensorSlice::to_json() const {
  return {{"path", path}, {"global_shape", global_shape}, {"local_shape", local_shape},
          {"dim", shard.dim}, {"offset", shard.offset}, {"length", shard.length}, {"blocks", shard.blocks}};
}

TensorSlice TensorSlice::from_json(const nlohmann::json& j) {
  TensorSlice s;
  s.path = j.at("path").get<std::string>();
  s.global_shape = j.at("global_shape").get<Shape>();
  s.local_shape = j.at("local_shape").get<Shape>();
  s.shard = ShardSpec{j.at("dim").get<int>(), j.at("offset").get<int64_t>(), j.at("length").get<int64_t>(),
                      j.at("blocks").get<int64_t>()};
  return s;
}

}  // namespace trident::checkpoint
