// Rotary position embedding, in place on qkv (B, T, (H + 2G)·D), HF Llama's
// rotate-half convention (backend.h): pair i < D/2 of a Q or K head at
// position t is (x[i], x[i + D/2]), rotated by the angle t·base^(−2i/D):
//
//   forward:  y[i] = x[i]·cos − x[i+D/2]·sin,  y[i+D/2] = x[i+D/2]·cos + x[i]·sin
//   backward: the transposed rotation, the same with −sin
//
// The cos and sin table is computed on the host in double, rounded to f32
// (as the CPU backend does) and kept on the device per (T, D, base). Q's
// and K's heads are contiguous columns [0, (H + G)·D) of a row, so one
// thread per (row, head, pair) covers both; V's columns are not touched.
#include <cmath>

#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/element.cuh"

namespace trident::backend::cuda {
namespace {

// table: cos (T, D/2) then sin (T, D/2); sign −1 rotates backwards.
template <typename T>
__global__ void rope_kernel(T* qkv, const float* table, int64_t rows, int64_t T_, int64_t rotated_heads,
                            int64_t D, int64_t width, float sign) {
  const int64_t half = D / 2, n = rows * rotated_heads * half;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = idx % half, head = (idx / half) % rotated_heads, row = idx / (half * rotated_heads);
    const int64_t t = row % T_;
    const float c = table[t * half + i], s = sign * table[(T_ + t) * half + i];
    T* x = qkv + row * width + head * D;
    const float x1 = to_float(x[i]), x2 = to_float(x[i + half]);
    x[i] = from_float<T>(x1 * c - x2 * s);
    x[i + half] = from_float<T>(x2 * c + x1 * s);
  }
}

}  // namespace

const Tensor& CudaBackend::rope_table(int64_t T, int64_t D, float base) {
  const auto key = std::make_tuple(T, D, base);
  if (auto it = rope_tables_.find(key); it != rope_tables_.end()) return it->second;
  const int64_t half = D / 2;
  Tensor host = Tensor::empty({2, T, half});
  float* p = host.data<float>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = double(t) * std::pow(double(base), -2.0 * double(i) / double(D));
      p[t * half + i] = float(std::cos(angle));
      p[(T + t) * half + i] = float(std::sin(angle));
    }
  // The copy is ordered after the compute stream's work (cuda_backend.cu's kCudaMemory).
  return rope_tables_.emplace(key, host.to(Device::cuda)).first->second;
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
    rope_kernel<E><<<grid_for(n), kThreads, 0, stream_>>>(out<E>(qkv), f32_in(table), B * T, T, rotated, D, width,
                                                          inverse ? -1.f : 1.f);
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
