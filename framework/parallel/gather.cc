#include "framework/parallel/gather.h"

namespace trident::parallel {

Tensor gather_tensor_parallel(const Param& p, TpGroup tp) {
  const Tensor local = p.value.device() == Device::cpu ? p.value.to(DType::f32) : p.value.to(Device::cpu).to(DType::f32);
  if (p.shard.replicated() || tp.size() == 1) return local;
  const int n = tp.size();
  Tensor all = Tensor::empty({int64_t(n) * local.numel()});
  tp.comm->all_gather(local.view({local.numel()}), all);
  // View the global tensor as (outer, blocks, n, length, inner) and rank r's
  // slice as (outer, blocks, length, inner): place each element.
  const Shape& g = p.global_shape;
  const size_t d = size_t(p.shard.dim);
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < d; ++i) outer *= g[i];
  for (size_t i = d + 1; i < g.size(); ++i) inner *= g[i];
  const int64_t blocks = p.shard.blocks, length = p.shard.length;
  Tensor full = Tensor::empty(g);
  const float* src = all.data<float>();
  float* dst = full.data<float>();
  for (int r = 0; r < n; ++r)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t b = 0; b < blocks; ++b)
        for (int64_t w = 0; w < length; ++w) {
          const float* from = src + r * local.numel() + ((o * blocks + b) * length + w) * inner;
          float* to = dst + ((o * blocks + b) * n * length + r * length + w) * inner;
          std::copy(from, from + inner, to);
        }
  return full;
}

}  // namespace trident::parallel
