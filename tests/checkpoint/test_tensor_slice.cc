// Shards and the index without MPI: slices written as one layout's ranks
// hold them (the TP blocks of a fused QKV weight, a column split, a
// row-split token table with vocabulary padding, a replicated vector) read
// back whole and as another layout's slices, element for element; rows
// beyond the stored table are left as they were.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "checkpoint/hdf5_handle.h"
#include "checkpoint/shard_io.h"

namespace trident::checkpoint {
namespace {

// Global (row, col) of local element (i, j) of a slice: block b of the
// split dimension holds [b·G/blocks + offset, + length).
int64_t global_index(const TensorSlice& s, int64_t i, int64_t j) {
  const int64_t cols = s.global_shape.size() > 1 ? s.global_shape[1] : 1;
  if (!s.shard.replicated()) {
    int64_t& k = s.shard.dim == 0 ? i : j;
    const int64_t block = k / s.shard.length, within = k % s.shard.length;
    k = block * (s.global_shape[size_t(s.shard.dim)] / s.shard.blocks) + s.shard.offset + within;
  }
  return i * cols + j;
}

// The global tensor's element g holds g + 1 (so zeros, the fill of an unmapped region, are wrong).
Tensor local_from_global(const TensorSlice& s, float untouched) {
  Tensor t = Tensor::empty(s.local_shape);
  const int64_t cols = s.local_shape.size() > 1 ? s.local_shape[1] : 1;
  const Shape stored = s.stored_shape();
  for (int64_t i = 0; i < s.local_shape[0]; ++i)
    for (int64_t j = 0; j < cols; ++j)
      t.data<float>()[i * cols + j] = i < stored[0] ? float(global_index(s, i, j) + 1) : untouched;
  return t;
}

class Shards : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("trident_slices_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "shards");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes one shard per rank's slices, then the index.
  void save(const std::vector<std::vector<TensorSlice>>& ranks) {
    std::vector<ShardListing> listings;
    for (size_t r = 0; r < ranks.size(); ++r) {
      std::vector<SliceData> data;
      for (const TensorSlice& s : ranks[r]) data.push_back({s, local_from_global(s, -7.f)});
      const std::string file = "shards/rank_" + std::to_string(r) + ".h5";
      write_shard((dir_ / file).string(), data);
      listings.push_back({file, ranks[r]});
    }
    write_index((dir_ / "index.h5").string(), listings, "{}");
  }
  // Reads a slice into a buffer of -1s and checks every element.
  void expect_reads(const TensorSlice& s) {
    SCOPED_TRACE(s.path + " " + s.to_json().dump());
    H5Handle index = h5_file_open((dir_ / "index.h5").string());
    Tensor out = Tensor::empty(s.local_shape);
    for (int64_t i = 0; i < out.numel(); ++i) out.data<float>()[i] = -1.f;
    read_slice(index, "index.h5", s, out);
    const Tensor want = local_from_global(s, -1.f);
    EXPECT_EQ(out.to_vector(), want.to_vector());
  }
  std::filesystem::path dir_;
};

TEST_F(Shards, FusedQkvBlocksReadWholeAndInAnotherSplit) {
  // (3·4, 2): Q | K | V blocks of 4 rows, saved at tp 2 (2 rows of each block per rank).
  auto qkv = [](int r, int n) { return TensorSlice{"qkv", {12, 2}, ShardSpec::split(0, 12, r, n, 3), {12 / n, 2}}; };
  save({{qkv(0, 2)}, {qkv(1, 2)}});
  expect_reads(TensorSlice{"qkv", {12, 2}, ShardSpec{}, {12, 2}});
  for (int r = 0; r < 4; ++r) expect_reads(qkv(r, 4));
}

TEST_F(Shards, ColumnSplitReadWhole) {
  auto w = [](int r, int n) { return TensorSlice{"proj", {3, 8}, ShardSpec::split(1, 8, r, n), {3, 8 / n}}; };
  save({{w(0, 4)}, {w(1, 4)}, {w(2, 4)}, {w(3, 4)}});
  expect_reads(TensorSlice{"proj", {3, 8}, ShardSpec{}, {3, 8}});
  expect_reads(w(1, 2));
}

TEST_F(Shards, PaddedTableStoresOnlyItsRows) {
  // 5 real rows, padded to 8 at tp 2: rank 1 holds row 4 and three padding rows.
  auto table = [](int r, int n, int64_t padded) {
    return TensorSlice{"wte", {5, 3}, ShardSpec::split(0, padded, r, n), {padded / n, 3}};
  };
  save({{table(0, 2, 8)}, {table(1, 2, 8)}});
  // tp 1 padded to 6 (replicated), and tp 4 padded to 8: rank 3 (rows 6, 7) has nothing stored.
  expect_reads(TensorSlice{"wte", {5, 3}, ShardSpec{}, {6, 3}});
  for (int r = 0; r < 4; ++r) expect_reads(table(r, 4, 8));
  EXPECT_TRUE(table(3, 4, 8).empty());
}

TEST_F(Shards, MissingTensorIsAUsageError) {
  save({{TensorSlice{"bias", {4}, ShardSpec{}, {4}}}});
  expect_reads(TensorSlice{"bias", {4}, ShardSpec{}, {4}});
  H5Handle index = h5_file_open((dir_ / "index.h5").string());
  Tensor out = Tensor::empty({4});
  EXPECT_THROW(read_slice(index, "index.h5", TensorSlice{"other", {4}, ShardSpec{}, {4}}, out), UsageError);
  EXPECT_THROW(read_slice(index, "index.h5", TensorSlice{"bias", {5}, ShardSpec{}, {5}}, out), Error);
}

}  // namespace
}  // namespace trident::checkpoint
