// TensorSlice: one rank's part of a global tensor as a checkpoint stores it.
// The part is a Param's ShardSpec (a dimension, and [offset, offset+length)
// of each of `blocks` equal blocks of it) over the global shape, so any
// other layout can find its own part in the same global coordinates.
//
// With the distributed optimizer a rank holds only some rows of its local
// tensor (Note [row-aligned optimizer shards] in bucket_layout.cc): the
// slice is then rows [first_row, first_row + rows) of it, which is still one
// box of the global tensor as long as the rows stay inside one of the
// blocks (checkpoint_pieces() in launch/ cuts them so).
//
// The global shape may have fewer rows than the layout pads the tensor to
// (the token table is stored without its vocabulary padding, which depends
// on tp): rows of the local tensor beyond it are neither stored nor loaded.
#pragma once

#include <hdf5.h>

#include <nlohmann/json.hpp>
#include <string>

#include "framework/core/param.h"

namespace trident::checkpoint {

struct TensorSlice {
  std::string path;    // dataset path, e.g. "model/layers.0.attn.qkv.weight"
  Shape global_shape;  // of the stored tensor
  ShardSpec shard;     // replicated: the whole tensor
  Shape local_shape;   // of the rank's tensor (padding rows included)
  int64_t first_row = 0;  // of the local tensor: the part this slice holds
  int64_t rows = -1;      // -1: every row of the local tensor

  // The rows this slice holds: local_shape, dim 0 cut to `rows`.
  Shape piece_shape() const;
  // The dataset's name in the rank's shard file: the path, and for a part
  // of the rows their first row (a rank may hold two pieces of one tensor).
  std::string dataset_name() const;

  // The piece cut to what is stored: piece_shape() with dim 0 clipped
  // to the global extent (0 rows: nothing of it is stored). Only dim 0 is
  // ever padded (the token table's rows).
  Shape stored_shape() const;
  bool empty() const { return shape_numel(stored_shape()) == 0; }
  // Selects, in a dataspace of global_shape, the elements this slice covers
  // in the rank's row-major order.
  void select_in_global(hid_t space) const;

  nlohmann::json to_json() const;
  static TensorSlice from_json(const nlohmann::json& j);
};

}  // namespace trident::checkpoint
