// The two kinds of HDF5 file in a checkpoint directory (DESIGN.md
// "Checkpoints"):
//   shards/rank_NNNNN.h5  one rank's slices, each a chunked, Fletcher32-
//                         checksummed f32 dataset at its global path, with
//                         the global shape and the slice as attributes;
//   index.h5              one virtual dataset per global tensor over the
//                         shards' slices (relative paths, so the directory
//                         can be renamed and moved), and the run's state.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/tensor_slice.h"
#include "framework/core/tensor.h"

namespace trident::checkpoint {

struct SliceData {
  TensorSlice slice;
  Tensor data;  // host f32, slice.local_shape
};

// Writes a new shard file (never overwrites). Returns the bytes of tensor
// data written. `after_each` runs after each dataset (tests kill there).
int64_t write_shard(const std::string& file, const std::vector<SliceData>& slices,
                    const std::function<void()>& after_each = {});

struct ShardListing {
  std::string file;  // relative to the checkpoint directory, e.g. "shards/rank_00003.h5"
  std::vector<TensorSlice> slices;
};
// Writes index.h5: a virtual dataset per distinct slice path, and the
// state JSON as the root attribute "trident_state" (plus "format_version"
// and "shards", the list of shard files).
void write_index(const std::string& file, const std::vector<ShardListing>& shards, const std::string& state_json);

// Reads `slice` of a global tensor from an open index file into `out`
// (host f32, slice.local_shape; rows beyond the stored ones are left alone).
void read_slice(hid_t index, const std::string& index_name, const TensorSlice& slice, Tensor& out);

constexpr int kFormatVersion = 1;

}  // namespace trident::checkpoint
