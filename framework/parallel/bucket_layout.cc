#include "framework/parallel/bucket_layout.h"

#include <algorithm>
#include <numeric>

#include "framework/core/error.h"

namespace trident::parallel {
namespace {

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// Note [row-aligned optimizer shards]
// A flat shard of a bucket may cut a parameter anywhere, but a checkpoint
// slice is a box of the global tensor. So every parameter starts at a
// multiple of its row length, and the shard size S is a multiple of every
// row length in the bucket: each cut k·S inside a parameter then falls
// between two of its rows. The padding this costs is below one row per
// parameter plus dp · lcm(row lengths) per bucket (docs/decisions.md,
// "Distributed optimizer").
Bucket lay_out(const std::vector<size_t>& group, const std::vector<Shape>& shapes, int dp) {
  Bucket b;
  int64_t offset = 0, row_lcm = 1;
  for (size_t i : group) {
    const int64_t w = row_elements(shapes[i]), n = shape_numel(shapes[i]);
    if (dp > 1) {
      offset = round_up(offset, w);
      row_lcm = std::lcm(row_lcm, w);
    }
    b.entries.push_back({i, offset, n});
    offset += n;
  }
  b.shard_size = dp > 1 ? round_up((offset + dp - 1) / dp, row_lcm) : offset;
  b.size = b.shard_size * dp;
  return b;
}

}  // namespace

int64_t row_elements(const Shape& shape) {
  int64_t w = 1;
  for (size_t d = 1; d < shape.size(); ++d) w *= shape[d];
  return w;
}

BucketLayout layout_buckets(const std::vector<Shape>& shapes, int64_t bucket_elements, int dp_shards) {
  TRIDENT_CHECK(bucket_elements > 0, "bucket size must be positive");
  TRIDENT_CHECK(dp_shards >= 1, "data-parallel shards must be at least 1, got ", dp_shards);
  // Reverse model order: the order in which backward completes the gradients.
  std::vector<std::vector<size_t>> groups(1);
  int64_t filled = 0;
  for (size_t i = shapes.size(); i-- > 0;) {
    if (filled >= bucket_elements) {
      groups.emplace_back();
      filled = 0;
    }
    groups.back().push_back(i);
    filled += shape_numel(shapes[i]);
  }
  BucketLayout layout;
  layout.dp_shards = dp_shards;
  if (shapes.empty()) return layout;
  for (const auto& group : groups) layout.buckets.push_back(lay_out(group, shapes, dp_shards));
  return layout;
}

std::vector<OwnedRows> BucketLayout::owned_by(int rank, const std::vector<Shape>& shapes) const {
  TRIDENT_CHECK(rank >= 0 && rank < dp_shards, "data-parallel rank ", rank, " of ", dp_shards);
  std::vector<OwnedRows> out;
  for (size_t bi = 0; bi < buckets.size(); ++bi) {
    const Bucket& b = buckets[bi];
    const int64_t begin = rank * b.shard_size, end = begin + b.shard_size;
    for (const BucketEntry& e : b.entries) {
      const int64_t lo = std::max(begin, e.offset), hi = std::min(end, e.offset + e.numel);
      if (lo >= hi) continue;
      const int64_t w = row_elements(shapes[e.param]);
      TRIDENT_CHECK((lo - e.offset) % w == 0 && (hi - lo) % w == 0, "shard cut inside a row");
      out.push_back({e.param, bi, (lo - e.offset) / w, (hi - lo) / w});
    }
  }
  return out;
}

int64_t BucketLayout::total_elements() const {
  int64_t n = 0;
  for (const Bucket& b : buckets) n += b.size;
  return n;
}

}  // namespace trident::parallel
