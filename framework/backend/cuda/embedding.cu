// Token embedding of a vocabulary shard, forward and backward.
#include "framework/backend/cuda/cuda_backend.h"
#include <cub/device/device_radix_sort.cuh>

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

__global__ void iota_kernel(int32_t* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = int32_t(i);
}

// After a stable sort of (token, position) by token, block i starts at
// sorted index i; only the first index of each token's run does work. It
// finds where the run ends, then each thread adds the run's dout rows for
// its channels into dwte in position order, the CPU backend's order:
// deterministic without atomics, and every row read once.
template <typename T>
__global__ void embedding_backward_runs_kernel(const int32_t* sorted_tok, const int32_t* sorted_pos, const T* dout,
                                               float* dwte, int64_t start, int64_t V, int64_t BT, int64_t C) {
  const int64_t i = blockIdx.x;
  const int32_t tok = sorted_tok[i];
  if (i > 0 && sorted_tok[i - 1] == tok) return;  // not the start of a run
  const int64_t v = int64_t(tok) - start;
  if (v < 0 || v >= V) return;  // another shard's token
  __shared__ int64_t run_end;
  if (threadIdx.x == 0) run_end = BT;
  __syncthreads();
  for (int64_t j = i + 1 + threadIdx.x; j < BT; j += blockDim.x)
    if (sorted_tok[j] != tok) {  // sorted: the smallest such j over all threads is the run's end
      atomicMin(reinterpret_cast<unsigned long long*>(&run_end), static_cast<unsigned long long>(j));
      break;
    }
  __syncthreads();
  const int64_t end = run_end;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    float acc = dwte[v * C + c];
#pragma unroll 4
    for (int64_t j = i; j < end; ++j) acc += to_float(dout[int64_t(sorted_pos[j]) * C + c]);
    dwte[v * C + c] = acc;
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
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::embedding_backward(const Tensor& tokens, const Tensor& dout, int64_t vocab_start, Tensor& dwte) {
  const OpScope prof(*this, "embedding_backward");
  const int64_t BT = tokens.numel(), C = dwte.size(1), V = dwte.size(0);
  TRIDENT_CHECK(dout.numel() == BT * C, "embedding backward shapes");
  if (BT == 0) return;
  TRIDENT_CHECK(BT < (int64_t(1) << 31), "embedding backward of ", BT, " tokens: at most 2^31 per call");
  // Stable radix sort of (token, position) pairs by token (CUB, in the toolkit).
  Tensor positions = scratch(kEmbPositions, {BT}, DType::i32);
  Tensor sorted_tok = scratch(kEmbSortedTokens, {BT}, DType::i32);
  Tensor sorted_pos = scratch(kEmbSortedPositions, {BT}, DType::i32);
  iota_kernel<<<grid_for(BT), kThreads, 0, stream_>>>(out<int32_t>(positions), BT);
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  size_t temp_bytes = 0;
  TRIDENT_LIB_CHECK(CudaRuntime, cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, i32_in(tokens),
                                                                 out<int32_t>(sorted_tok), in<int32_t>(positions),
                                                                 out<int32_t>(sorted_pos), int(BT), 0, 32, stream_));
  Tensor temp = scratch(kEmbSortTemp, {int64_t(temp_bytes / 4 + 1)});
  TRIDENT_LIB_CHECK(CudaRuntime, cub::DeviceRadixSort::SortPairs(temp.raw(), temp_bytes, i32_in(tokens),
                                                                 out<int32_t>(sorted_tok), in<int32_t>(positions),
                                                                 out<int32_t>(sorted_pos), int(BT), 0, 32, stream_));
  dispatch_float(dout.dtype(), "embedding_backward", [&]<typename T>() {
    embedding_backward_runs_kernel<T><<<unsigned(BT), kThreads, 0, stream_>>>(
        in<int32_t>(sorted_tok), in<int32_t>(sorted_pos), in<T>(dout), f32_out(dwte), vocab_start, V, BT, C);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

}  // namespace trident::backend::cuda
