// Token + position embedding, forward and backward.
#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/launch_utils.cuh"

namespace trident::backend::cuda {
namespace {

__global__ void embedding_forward_kernel(const int32_t* tok, const float* wte, const float* wpe, float* out,
                                         int64_t BT, int64_t T, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < BT * C; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t bt = i / C, c = i % C;
    out[i] = wte[int64_t(tok[bt]) * C + c] + wpe[(bt % T) * C + c];
  }
}

// Thread (vocab chunk, channel c) walks all rows in order and adds the rows
// whose token falls in its chunk: each dwte element has one writer and a
// fixed summation order, so the result is deterministic without atomics.
__global__ void embedding_backward_wte_kernel(const int32_t* tok, const float* dout, float* dwte, int64_t BT,
                                              int64_t C, int64_t V, int64_t chunk) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const int64_t v0 = blockIdx.y * chunk, v1 = min(V, v0 + chunk);
  for (int64_t bt = 0; bt < BT; ++bt) {
    const int64_t v = tok[bt];
    if (v >= v0 && v < v1) dwte[v * C + c] += dout[bt * C + c];
  }
}

// dwpe[t, c] += Σ_b dout[b, t, c], b in order.
__global__ void embedding_backward_wpe_kernel(const float* dout, float* dwpe, int64_t B, int64_t T, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < T * C; i += int64_t(gridDim.x) * blockDim.x) {
    float acc = 0.f;
    for (int64_t b = 0; b < B; ++b) acc += dout[b * T * C + i];
    dwpe[i] += acc;
  }
}

}  // namespace

void CudaBackend::embedding_forward(const Tensor& tokens, const Tensor& wte, const Tensor& wpe, Tensor& out) {
  const int64_t B = tokens.size(0), T = tokens.size(1), C = wte.size(1);
  TRIDENT_CHECK(wpe.size(0) >= T && wpe.size(1) == C && out.numel() == B * T * C, "embedding shapes");
  // Token ids are not range-checked on the device; the sampler produces bytes
  // and the CPU backend's check covers the reference runs.
  embedding_forward_kernel<<<grid_for(B * T * C), kThreads, 0, stream_>>>(i32_in(tokens), f32_in(wte), f32_in(wpe),
                                                                         f32_out(out), B * T, T, C);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::embedding_backward(const Tensor& tokens, const Tensor& dout, Tensor& dwte, Tensor& dwpe) {
  const int64_t B = tokens.size(0), T = tokens.size(1), C = dwte.size(1), V = dwte.size(0);
  const int64_t chunks = V < 64 ? V : 64, chunk = (V + chunks - 1) / chunks;
  const dim3 grid(unsigned((C + kThreads - 1) / kThreads), unsigned(chunks));
  embedding_backward_wte_kernel<<<grid, kThreads, 0, stream_>>>(i32_in(tokens), f32_in(dout), f32_out(dwte), B * T, C,
                                                                V, chunk);
  CUDA_CHECK_LAUNCH();
  embedding_backward_wpe_kernel<<<grid_for(T * C), kThreads, 0, stream_>>>(f32_in(dout), f32_out(dwpe), B, T, C);
  CUDA_CHECK_LAUNCH();
}

}  // namespace trident::backend::cuda
