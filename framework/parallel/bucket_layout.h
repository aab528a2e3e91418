// Where each parameter's gradient (and, with the distributed optimizer, its
// compute-dtype value) sits in the data-parallel buckets, and which rows of
// it each data-parallel rank owns: a pure function of the local shapes, so a
// memory model or planner can call it without building a model.
//
// Parameters are grouped in reverse model order (the order backward
// finishes them) into buckets of about `bucket_elements`. With `dp_shards`
// > 1 (the distributed optimizer) each bucket is cut into dp equal shards of
// S elements, one per data-parallel rank, and every cut falls between two
// rows of a parameter (Note [row-aligned optimizer shards]): a rank then owns
// whole rows of each parameter it touches, which a checkpoint stores as a
// plain slice of the global tensor.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"

namespace trident::parallel {

// Elements of one row of a parameter of this shape: everything but dim 0 (1 for vectors).
int64_t row_elements(const Shape& shape);

struct BucketEntry {
  size_t param = 0;     // index into the shapes given, model order
  int64_t offset = 0;   // first element in the bucket
  int64_t numel = 0;
};

struct Bucket {
  std::vector<BucketEntry> entries;  // in the order backward finishes them
  int64_t size = 0;         // elements, padding included: dp_shards · shard_size
  int64_t shard_size = 0;   // S: elements each data-parallel rank owns (size when not sharded)
};

// A data-parallel rank's rows [first_row, first_row + rows) of one parameter.
struct OwnedRows {
  size_t param = 0;
  size_t bucket = 0;
  int64_t first_row = 0;
  int64_t rows = 0;
};

struct BucketLayout {
  std::vector<Bucket> buckets;
  int dp_shards = 1;
  // The rows of every parameter `rank` owns, bucket by bucket (every row of
  // every parameter when dp_shards is 1).
  std::vector<OwnedRows> owned_by(int rank, const std::vector<Shape>& shapes) const;
  int64_t total_elements() const;  // Σ bucket sizes
};

// shapes: the local parameter shapes in model order. dp_shards = 1: no
// sharding, no padding (today's buckets).
BucketLayout layout_buckets(const std::vector<Shape>& shapes, int64_t bucket_elements, int dp_shards = 1);

}  // namespace trident::parallel
