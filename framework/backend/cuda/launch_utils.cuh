// Launch helpers shared by the CUDA kernels: grid sizes and warp/block
// reductions.
#pragma once

#include <cstdint>

#include "framework/backend/cuda/cuda_check.h"
#include "framework/core/tensor.h"

namespace trident::backend::cuda {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements (capped: the loop covers the rest).
inline unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return unsigned(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

inline const float* f32_in(const Tensor& t) {
  TRIDENT_CHECK(t.device() == Device::cuda, "a host tensor passed to the CUDA backend");
  return t.data<float>();
}
inline float* f32_out(const Tensor& t) { return const_cast<float*>(f32_in(t)); }
inline const int32_t* i32_in(const Tensor& t) {
  TRIDENT_CHECK(t.device() == Device::cuda, "a host tensor passed to the CUDA backend");
  return t.data<int32_t>();
}

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over a block of kThreads threads; every thread gets the result.
__device__ inline float block_sum(float v) {
  __shared__ float partial[kThreads / 32];
  __syncthreads();  // partial may still be read by a previous call
  v = warp_sum(v);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < kThreads / 32; ++w) total += partial[w];  // fixed order: deterministic
  return total;
}
__device__ inline float block_max(float v) {
  __shared__ float partial[kThreads / 32];
  __syncthreads();
  v = warp_max(v);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
  __syncthreads();
  float m = partial[0];
  for (int w = 1; w < kThreads / 32; ++w) m = fmaxf(m, partial[w]);
  return m;
}

}  // namespace trident::backend::cuda
