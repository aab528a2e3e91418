#include "framework/core/param.h"

#include <vector>

#include "framework/core/memory_category.h"
#include "framework/core/rng.h"

namespace trident {

int64_t Param::global_index(int64_t local) const {
  if (shard.replicated()) return local;
  // Decompose the local index over the local shape, shift the split
  // dimension by the shard offset, recompose over the global shape.
  const Shape& local_shape = value.shape();
  int64_t global = 0, rest = local, stride_local = value.numel(), stride_global = shape_numel(global_shape);
  for (size_t d = 0; d < local_shape.size(); ++d) {
    stride_local /= local_shape[d];
    stride_global /= global_shape[d];
    int64_t coord = rest / stride_local;
    rest %= stride_local;
    if (int(d) == shard.dim) {
      const int64_t block = coord / shard.length, within = coord % shard.length;
      coord = block * (global_shape[d] / shard.blocks) + shard.offset + within;
    }
    global += coord * stride_global;
  }
  return global;
}

Param make_param(std::string name, Shape shape, InitKind init, float init_std, bool weight_decay,
                 DType dtype) {
  Param p;
  p.name = std::move(name);
  p.global_shape = shape;
  p.init = init;
  p.init_std = init_std;
  p.weight_decay = weight_decay;
  {
    const MemoryCategoryScope weights(MemoryCategory::weights);
    p.value = Tensor::zeros(shape, dtype);
  }
  const MemoryCategoryScope gradients(MemoryCategory::gradients);
  p.grad = Tensor::zeros(shape, DType::f32);
  return p;
}

ShardSpec ShardSpec::split(int dim, int64_t global, int r, int n, int64_t blocks) {
  TRIDENT_CHECK(global % (blocks * n) == 0, "a dimension of ", global, " in ", blocks, " blocks does not split ", n, " ways");
  const int64_t length = global / blocks / n;
  return ShardSpec{dim, r * length, length, blocks};
}

Param make_sharded_param(std::string name, Shape global_shape, ShardSpec shard, InitKind init, float init_std,
                         bool weight_decay, DType dtype) {
  Shape local = global_shape;
  if (!shard.replicated()) local[size_t(shard.dim)] = shard.length * shard.blocks;
  Param p = make_param(std::move(name), local, init, init_std, weight_decay, dtype);
  p.global_shape = std::move(global_shape);
  p.shard = shard;
  return p;
}

void init_param(Param& p, uint64_t seed) {
  const int64_t n = p.value.numel();
  std::vector<float> values(size_t(n), p.init == InitKind::ones ? 1.f : 0.f);
  if (p.init == InitKind::normal) {
    const Philox rng(seed, p.name);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) values[size_t(i)] = p.init_std * rng.normal(uint64_t(p.global_index(i)));
  }
  convert(values.data(), DType::f32, p.value.raw(), p.value.dtype(), size_t(n));
}

}  // namespace trident
