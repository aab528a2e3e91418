#include "launch/checkpoint_slices.h"

namespace trident::launch {

checkpoint::TensorSlice checkpoint_slice(const Param& p, const std::string& prefix) {
  checkpoint::TensorSlice s{prefix + p.name, p.global_shape, p.shard, p.value.shape()};
  if (p.unpadded_rows >= 0) s.global_shape[0] = p.unpadded_rows;
  return s;
}

}  // namespace trident::launch
