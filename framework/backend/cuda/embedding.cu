// Token embedding of a vocabulary shard, forward and backward.
#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/element.cuh"

namespace trident::backend::cuda {
namespace {

template <typename T>
__global__ void embedding_forward_kernel(const int32_t* tok, const T* wte, int64_t start, int64_t V, T* out,
                                         int64_t BT, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < BT * C; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t v = int64_t(tok[i / C]) - start;
    out[i] = v >= 0 && v < V ? wte[v * C + i % C] : from_float<T>(0.f);
  }
}

// Thread (vocab chunk, channel c) walks all rows in order and adds the rows
// whose token falls in its chunk: each dwte element has one writer and a
// fixed summation order, so the result is deterministic without atomics.
template <typename T>
__global__ void embedding_backward_kernel(const int32_t* tok, const T* dout, float* dwte, int64_t start, int64_t BT,
                                          int64_t C, int64_t V, int64_t chunk) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const int64_t v0 = blockIdx.y * chunk, v1 = min(V, v0 + chunk);
  for (int64_t bt = 0; bt < BT; ++bt) {
    const int64_t v = int64_t(tok[bt]) - start;
    if (v >= v0 && v < v1) dwte[v * C + c] += to_float(dout[bt * C + c]);
  }
}

}  // namespace

void CudaBackend::embedding_forward(const Tensor& tokens, const Tensor& wte, int64_t vocab_start, Tensor& out) {
  const OpScope prof(*this, "embedding_forward");
  const int64_t BT = tokens.numel(), C = wte.size(1);
  TRIDENT_CHECK(out.numel() == BT * C, "embedding shapes");
  check_same_dtype("embedding_forward", {&wte, &out});
  dispatch_float(wte.dtype(), "embedding_forward", [&]<typename T>() {
    embedding_forward_kernel<T><<<grid_for(BT * C), kThreads, 0, stream_>>>(i32_in(tokens), in<T>(wte), vocab_start,
                                                                            wte.size(0), cuda::out<T>(out), BT, C);
  });
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::embedding_backward(const Tensor& tokens, const Tensor& dout, int64_t vocab_start, Tensor& dwte) {
  const OpScope prof(*this, "embedding_backward");
  const int64_t BT = tokens.numel(), C = dwte.size(1), V = dwte.size(0);
  const int64_t chunks = V < 64 ? V : 64, chunk = (V + chunks - 1) / chunks;
  const dim3 grid(unsigned((C + kThreads - 1) / kThreads), unsigned(chunks));
  dispatch_float(dout.dtype(), "embedding_backward", [&]<typename T>() {
    embedding_backward_kernel<T><<<grid, kThreads, 0, stream_>>>(i32_in(tokens), in<T>(dout), f32_out(dwte),
                                                                 vocab_start, BT, C, V, chunk);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace trident::backend::cuda
