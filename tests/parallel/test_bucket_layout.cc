// layout_buckets (framework/parallel/bucket_layout.h): where gradients sit
// in the data-parallel buckets and which rows each rank owns under the
// distributed optimizer. Checked by counting, not against the function's
// own arithmetic: every element of every parameter is owned by exactly one
// rank, every owned piece is whole rows, shards are equal and the padding
// stays within the stated bound.
#include <gtest/gtest.h>

#include <map>
#include <numeric>

#include "framework/parallel/bucket_layout.h"

namespace trident::parallel {
namespace {

// A GPT-like stage at tp = 2: embedding rows of width 64, fused qkv, biases, norms.
const std::vector<Shape> kShapes = {{128, 64}, {64, 64}, {64},     {64},     {96, 64}, {96}, {64, 32},
                                    {64},      {64},     {64},     {128, 64}, {128},   {64, 128}, {64}};

int64_t total_numel() {
  int64_t n = 0;
  for (const Shape& s : kShapes) n += shape_numel(s);
  return n;
}

TEST(BucketLayout, UnshardedBucketsHoldTheParametersBackToBack) {
  const BucketLayout layout = layout_buckets(kShapes, 5000, 1);
  EXPECT_EQ(layout.total_elements(), total_numel());  // no padding at all
  for (const Bucket& b : layout.buckets) {
    int64_t offset = 0;
    for (const BucketEntry& e : b.entries) {
      EXPECT_EQ(e.offset, offset);
      offset += e.numel;
    }
    EXPECT_EQ(b.size, offset);
  }
  // Reverse model order: the first bucket opens with the last parameter.
  EXPECT_EQ(layout.buckets.front().entries.front().param, kShapes.size() - 1);
}

class ShardedLayout : public ::testing::TestWithParam<std::pair<int64_t, int>> {};

TEST_P(ShardedLayout, EveryElementHasOneOwnerInWholeRows) {
  const auto [bucket_elements, dp] = GetParam();
  const BucketLayout layout = layout_buckets(kShapes, bucket_elements, dp);
  std::map<size_t, std::vector<int>> owners;  // param -> owner of each row
  for (size_t p = 0; p < kShapes.size(); ++p) owners[p].assign(size_t(kShapes[p][0]), -1);
  for (int r = 0; r < dp; ++r) {
    for (const OwnedRows& o : layout.owned_by(r, kShapes)) {
      const Bucket& b = layout.buckets[o.bucket];
      ASSERT_GT(o.rows, 0);
      // The rows lie inside the rank's shard, where the bucket put that parameter.
      const BucketEntry* entry = nullptr;
      for (const BucketEntry& e : b.entries)
        if (e.param == o.param) entry = &e;
      ASSERT_NE(entry, nullptr);
      const int64_t w = row_elements(kShapes[o.param]);
      const int64_t start = entry->offset + o.first_row * w;  // in the bucket
      EXPECT_GE(start, r * b.shard_size);
      EXPECT_LE(start + o.rows * w, (r + 1) * b.shard_size);
      for (int64_t row = o.first_row; row < o.first_row + o.rows; ++row) {
        ASSERT_EQ(owners[o.param][size_t(row)], -1) << "row " << row << " of param " << o.param << " owned twice";
        owners[o.param][size_t(row)] = r;
      }
    }
  }
  for (const auto& [p, rows] : owners)
    for (size_t row = 0; row < rows.size(); ++row) ASSERT_NE(rows[row], -1) << "param " << p << " row " << row;
  // Padding: under one row per parameter (alignment) plus dp · lcm(row widths) per bucket.
  int64_t bound = 0;
  for (const Bucket& b : layout.buckets) {
    EXPECT_EQ(b.size, b.shard_size * dp);
    int64_t lcm = 1;
    for (const BucketEntry& e : b.entries) {
      bound += row_elements(kShapes[e.param]);
      lcm = std::lcm(lcm, row_elements(kShapes[e.param]));
    }
    bound += dp * lcm;
  }
  EXPECT_LE(layout.total_elements() - total_numel(), bound);
}

INSTANTIATE_TEST_SUITE_P(SizesAndRanks, ShardedLayout,
                         ::testing::Values(std::pair<int64_t, int>{1, 2}, std::pair<int64_t, int>{5000, 2},
                                           std::pair<int64_t, int>{5000, 4}, std::pair<int64_t, int>{1 << 20, 3},
                                           std::pair<int64_t, int>{1 << 20, 8}, std::pair<int64_t, int>{1, 1}));

// At dp = 4 a rank owns a quarter of the elements, give or take the padding.
TEST(BucketLayout, ShardsAreAQuarterAtFourRanks) {
  const BucketLayout layout = layout_buckets(kShapes, 1 << 20, 4);
  for (int r = 0; r < 4; ++r) {
    int64_t owned = 0;
    for (const OwnedRows& o : layout.owned_by(r, kShapes)) owned += o.rows * row_elements(kShapes[o.param]);
    EXPECT_NEAR(double(owned), double(total_numel()) / 4, double(layout.total_elements() - total_numel()));
  }
}

}  // namespace
}  // namespace trident::parallel
