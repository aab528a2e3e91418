// Rotary position embedding, in place on qkv (B, T, (H + 2G)·D), HF Llama's
// rotate-half convention (backend.h): pair i < D/2 of a Q or K head at
// position t is (x[i], x[i + D/2]), rotated by the angle t·base^(−2i/D):
//
//   forward:  y[i] = x[i]·cos − x[i+D/2]·sin,  y[i+D/2] = x[i+D/2]·cos + x[i]·sin
//   backward: the transposed rotation, the same with −sin
//
// The cos and sin table is backend.h's rope_angles (the CPU backend's too),
// kept on the device per (D, base) for the longest sequence yet. Q's
// and K's heads are contiguous columns [0, (H + G)·D) of a row, so one
// thread per (row, head, pair) covers both; V's columns are not touched.
#include <algorithm>

#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/element.cuh"

namespace trident::backend::cuda {
namespace {

// cos_t, sin_t: (at least T_, D/2); sign −1 rotates backwards.
template <typename T>
__global__ void rope_kernel(T* qkv, const float* cos_t, const float* sin_t, int64_t rows, int64_t T_,
                            int64_t rotated_heads, int64_t D, int64_t width, float sign) {
  const int64_t half = D / 2, n = rows * rotated_heads * half;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = idx % half, head = (idx / half) % rotated_heads, row = idx / (half * rotated_heads);
    const int64_t t = row % T_;
    const float c = cos_t[t * half + i], s = sign * sin_t[t * half + i];
    T* x = qkv + row * width + head * D;
    const float x1 = to_float(x[i]), x2 = to_float(x[i + half]);
    x[i] = from_float<T>(x1 * c - x2 * s);
    x[i + half] = from_float<T>(x2 * c + x1 * s);
  }
}

}  // namespace

const Tensor& CudaBackend::rope_table(int64_t T, int64_t D, float base) {
  const auto key = std::make_pair(D, base);
  const auto it = rope_tables_.find(key);
  if (it != rope_tables_.end() && it->second.size(1) >= T) return it->second;
  if (it != rope_tables_.end()) T = std::max(T, 2 * it->second.size(1));  // growing a token at a time: rebuild rarely
  Tensor host = Tensor::empty({2, T, D / 2});  // cos, then sin
  rope_angles(T, D, base, host.data<float>(), host.data<float>() + T * (D / 2));
  // The copy is ordered after the compute stream's work (cuda_backend.cu's kCudaMemory).
  return rope_tables_.insert_or_assign(key, host.to(Device::cuda)).first->second;
}

void CudaBackend::rope_rotate(Tensor& qkv, int n_heads, int n_kv_heads, float base, bool inverse) {
  TRIDENT_CHECK(qkv.dim() == 3 && n_heads > 0 && n_kv_heads > 0, "rope of a tensor of ", qkv.dim(),
                " dims with ", n_heads, " heads and ", n_kv_heads, " key/value heads");
  const int64_t B = qkv.size(0), T = qkv.size(1), width = qkv.size(2), heads = n_heads + 2 * int64_t(n_kv_heads);
  const int64_t D = width / heads;
  TRIDENT_CHECK(width == heads * D && D % 2 == 0, "rope: rows of ", width, " for ", n_heads, " + 2·", n_kv_heads,
                " heads of an even size");
  if (B * T == 0 || D == 0) return;
  const Tensor& table = rope_table(T, D, base);
  const int64_t rotated = n_heads + int64_t(n_kv_heads), n = B * T * rotated * (D / 2);
  dispatch_float(qkv.dtype(), inverse ? "rope_backward" : "rope_forward", [&]<typename E>() {
    const float* cos_t = f32_in(table);
    rope_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(out<E>(qkv), cos_t, cos_t + table.size(1) * (D / 2), B * T,
                                                          T, rotated, D, width, inverse ? -1.f : 1.f);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::rope_forward(Tensor& qkv, int n_heads, int n_kv_heads, float base) {
  const OpScope prof(*this, "rope_forward");
  rope_rotate(qkv, n_heads, n_kv_heads, base, false);
}

void CudaBackend::rope_backward(Tensor& dqkv, int n_heads, int n_kv_heads, float base) {
  const OpScope prof(*this, "rope_backward");
  rope_rotate(dqkv, n_heads, n_kv_heads, base, true);
}

}  // namespace trident::backend::cuda
