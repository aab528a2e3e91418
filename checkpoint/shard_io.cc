#include "checkpoint/shard_io.h"

#include <algorithm>
#include <map>

#include "checkpoint/hdf5_handle.h"
#include "framework/core/error.h"

namespace trident::checkpoint {
namespace {

std::vector<hsize_t> dims_of(const Shape& s) { return std::vector<hsize_t>(s.begin(), s.end()); }

H5Handle simple_space(const Shape& s) {
  const auto d = dims_of(s);
  return {TRIDENT_LIB_CHECK(Hdf5, H5Screate_simple(int(d.size()), d.data(), nullptr)), H5Sclose};
}

// Dataset creation properties that create missing groups on the way.
H5Handle intermediate_groups() {
  H5Handle lcpl(TRIDENT_LIB_CHECK(Hdf5, H5Pcreate(H5P_LINK_CREATE)), H5Pclose);
  TRIDENT_LIB_CHECK(Hdf5, H5Pset_create_intermediate_group(lcpl, 1));
  return lcpl;
}

void write_i64_attribute(hid_t object, const char* name, const std::vector<int64_t>& values) {
  const hsize_t n = values.size();
  H5Handle space(TRIDENT_LIB_CHECK(Hdf5, H5Screate_simple(1, &n, nullptr)), H5Sclose);
  H5Handle attr(TRIDENT_LIB_CHECK(Hdf5, H5Acreate2(object, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                                  "attribute ", name),
                H5Aclose);
  TRIDENT_LIB_CHECK(Hdf5, H5Awrite(attr, H5T_NATIVE_INT64, values.data()), "attribute ", name);
}

// Chunks of about 1 MiB along dim 0: small enough that a damaged byte costs
// one chunk's checksum, large enough that the checksums cost nothing.
std::vector<hsize_t> chunk_dims(const Shape& s) {
  std::vector<hsize_t> c = dims_of(s);
  const int64_t row = shape_numel(s) / std::max<int64_t>(1, s[0]);
  c[0] = hsize_t(std::clamp<int64_t>((1 << 18) / std::max<int64_t>(1, row), 1, s[0]));
  return c;
}

}  // namespace

int64_t write_shard(const std::string& file, const std::vector<SliceData>& slices,
                    const std::function<void()>& after_each) {
  H5Handle f = h5_memory_file_create(file);
  const H5Handle lcpl = intermediate_groups();
  int64_t bytes = 0;
  for (const SliceData& sd : slices) {
    const TensorSlice& s = sd.slice;
    if (s.empty()) continue;
    const Shape stored = s.stored_shape();
    TRIDENT_CHECK(sd.data.dtype() == DType::f32 && sd.data.device() == Device::cpu &&
                      sd.data.shape() == s.piece_shape(), "checkpoint data for ", s.path, " is not a host f32 ",
                  shape_str(s.piece_shape()));
    const H5Handle space = simple_space(stored);
    H5Handle dcpl(TRIDENT_LIB_CHECK(Hdf5, H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
    const auto chunk = chunk_dims(stored);
    TRIDENT_LIB_CHECK(Hdf5, H5Pset_chunk(dcpl, int(chunk.size()), chunk.data()), "chunking ", s.path);
    TRIDENT_LIB_CHECK(Hdf5, H5Pset_fletcher32(dcpl), "checksumming ", s.path);
    H5Handle ds(TRIDENT_LIB_CHECK(Hdf5, H5Dcreate2(f, s.dataset_name().c_str(), H5T_IEEE_F32LE, space, lcpl, dcpl,
                                                          H5P_DEFAULT),
                                  "creating ", s.dataset_name(), " in ", file),
                H5Dclose);
    // Stored rows are the first rows of the local tensor (Tensor::slice is along dim 0).
    const Tensor rows = sd.data.slice(0, stored[0]);
    TRIDENT_LIB_CHECK(Hdf5, H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.raw()), "writing ",
                      s.path, " to ", file);
    write_i64_attribute(ds, "global_shape", s.global_shape);
    write_i64_attribute(ds, "shard", {s.shard.dim, s.shard.offset, s.shard.length, s.shard.blocks});
    ds.close("closing " + s.path + " in " + file);
    bytes += int64_t(rows.bytes());
    if (after_each) after_each();
  }
  h5_memory_file_write(f, file);  // a full disk shows here
  return bytes;
}

void write_index(const std::string& file, const std::vector<ShardListing>& shards, const std::string& state_json) {
  H5Handle f = h5_memory_file_create(file);
  const H5Handle lcpl = intermediate_groups();
  // Every global tensor: its shape and the (file, slice) pieces it is made of.
  std::map<std::string, std::vector<std::pair<std::string, TensorSlice>>> pieces;
  nlohmann::json files = nlohmann::json::array();
  for (const ShardListing& shard : shards) {
    files.push_back(shard.file);
    for (const TensorSlice& s : shard.slices)
      if (!s.empty()) pieces[s.path].emplace_back(shard.file, s);
  }
  for (const auto& [path, list] : pieces) {
    const Shape& global = list.front().second.global_shape;
    H5Handle dcpl(TRIDENT_LIB_CHECK(Hdf5, H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
    for (const auto& [shard_file, s] : list) {
      TRIDENT_CHECK(s.global_shape == global, "slices of ", path, " disagree on its shape");
      const H5Handle vspace = simple_space(global);
      s.select_in_global(vspace);
      const H5Handle src = simple_space(s.stored_shape());
      TRIDENT_LIB_CHECK(Hdf5, H5Pset_virtual(dcpl, vspace, shard_file.c_str(), s.dataset_name().c_str(), src), "mapping ",
                        path);
    }
    const H5Handle space = simple_space(global);
    H5Handle ds(TRIDENT_LIB_CHECK(Hdf5, H5Dcreate2(f, path.c_str(), H5T_IEEE_F32LE, space, lcpl, dcpl, H5P_DEFAULT),
                                  "creating ", path, " in ", file),
                H5Dclose);
    ds.close("closing " + path);
  }
  H5Handle root(TRIDENT_LIB_CHECK(Hdf5, H5Gopen2(f, "/", H5P_DEFAULT)), H5Gclose);
  write_string_attribute(root, "trident_state", state_json);
  write_string_attribute(root, "shards", files.dump());
  write_i64_attribute(root, "format_version", {kFormatVersion});
  root.reset();
  h5_memory_file_write(f, file);
}

void read_slice(hid_t index, const std::string& index_name, const TensorSlice& slice, Tensor& out) {
  TRIDENT_CHECK(out.dtype() == DType::f32 && out.device() == Device::cpu && out.shape() == slice.piece_shape(),
                "read buffer for ", slice.path);
  if (slice.empty()) return;
  if (H5Lexists(index, slice.path.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw UsageError("checkpoint " + index_name + " has no tensor '" + slice.path +
                     "': it was saved from another model (or without optimizer state: add --no-load-optim)");
  }
  H5Handle ds(TRIDENT_LIB_CHECK(Hdf5, H5Dopen2(index, slice.path.c_str(), H5P_DEFAULT), "opening ", slice.path),
              H5Dclose);
  H5Handle space(TRIDENT_LIB_CHECK(Hdf5, H5Dget_space(ds), "dataspace of ", slice.path), H5Sclose);
  const int n = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(size_t(std::max(n, 0)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  if (Shape(dims.begin(), dims.end()) != slice.global_shape)
    throw UsageError("checkpoint tensor '" + slice.path + "' in " + index_name + " has shape " +
                     shape_str(Shape(dims.begin(), dims.end())) + ", this model needs " +
                     shape_str(slice.global_shape));
  slice.select_in_global(space);
  const H5Handle mem = simple_space(slice.stored_shape());
  Tensor rows = out.slice(0, slice.stored_shape()[0]);
  if (H5Dread(ds, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, rows.raw()) < 0)
    throw UsageError("reading '" + slice.path + "' from " + index_name + " failed (" + hdf5_error_stack() +
                     "): the checkpoint is damaged; load an earlier one with --load-iteration");
}

}  // namespace trident::checkpoint
