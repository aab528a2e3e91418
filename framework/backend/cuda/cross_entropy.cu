// Softmax cross-entropy in place over rows of logits: one block per row.
#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/launch_utils.cuh"

namespace trident::backend::cuda {
namespace {

__global__ void cross_entropy_forward_kernel(float* logits, const int32_t* targets, float* losses, int64_t V) {
  float* row = logits + blockIdx.x * V;
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, row[j]);
  mx = block_max(mx);
  const float target_logit = row[targets[blockIdx.x]];
  __syncthreads();  // everyone has read the target logit before it is overwritten
  float sum = 0.f;
  for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
    const float e = expf(row[j] - mx);
    row[j] = e;
    sum += e;
  }
  sum = block_sum(sum);
  const float inv = 1.f / sum;
  for (int64_t j = threadIdx.x; j < V; j += blockDim.x) row[j] *= inv;
  if (threadIdx.x == 0) losses[blockIdx.x] = logf(sum) - (target_logit - mx);
}

__global__ void cross_entropy_backward_kernel(float* probs, const int32_t* targets, float scale, int64_t n, int64_t V) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float onehot = (i % V) == targets[i / V] ? 1.f : 0.f;
    probs[i] = (probs[i] - onehot) * scale;
  }
}

}  // namespace

void CudaBackend::cross_entropy_forward(Tensor& logits, const Tensor& targets, Tensor& losses) {
  const int64_t V = logits.size(-1), N = logits.numel() / V;
  TRIDENT_CHECK(targets.numel() == N && losses.numel() == N, "cross-entropy shapes");
  if (N == 0) return;
  cross_entropy_forward_kernel<<<unsigned(N), kThreads, 0, stream_>>>(f32_out(logits), i32_in(targets),
                                                                      f32_out(losses), V);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::cross_entropy_backward(Tensor& probs, const Tensor& targets, float scale) {
  const int64_t V = probs.size(-1);
  cross_entropy_backward_kernel<<<grid_for(probs.numel()), kThreads, 0, stream_>>>(f32_out(probs), i32_in(targets),
                                                                                   scale, probs.numel(), V);
  CUDA_CHECK_LAUNCH();
}

}  // namespace trident::backend::cuda
