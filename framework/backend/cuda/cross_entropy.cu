// Softmax cross-entropy in place over rows of (a vocabulary shard of)
// logits, in the pieces backend.h describes: one block per row.
#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/launch_utils.cuh"

namespace trident::backend::cuda {
namespace {

__global__ void row_max_kernel(const float* logits, int64_t V, int64_t real, float* row_max) {
  const float* row = logits + blockIdx.x * V;
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < real; j += blockDim.x) mx = fmaxf(mx, row[j]);
  mx = block_max(mx);
  if (threadIdx.x == 0) row_max[blockIdx.x] = mx;
}

__global__ void exp_sums_kernel(float* logits, const float* row_max, const int32_t* targets, int64_t start, int64_t V,
                                int64_t real, int64_t N, float* stats) {
  float* row = logits + blockIdx.x * V;
  const float mx = row_max[blockIdx.x];
  const int64_t t = int64_t(targets[blockIdx.x]) - start;
  const float target_logit = t >= 0 && t < real ? row[t] - mx : 0.f;
  __syncthreads();  // every thread has read the target logit before it is overwritten
  float sum = 0.f;
  for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
    const float e = j < real ? expf(row[j] - mx) : 0.f;
    row[j] = e;
    sum += e;
  }
  sum = block_sum(sum);
  if (threadIdx.x == 0) {
    stats[blockIdx.x] = sum;
    stats[N + blockIdx.x] = target_logit;
  }
}

__global__ void finish_kernel(float* logits, const float* stats, int64_t V, int64_t N, float* losses) {
  float* row = logits + blockIdx.x * V;
  const float sum = stats[blockIdx.x];
  const float inv = 1.f / sum;
  for (int64_t j = threadIdx.x; j < V; j += blockDim.x) row[j] *= inv;
  if (threadIdx.x == 0) losses[blockIdx.x] = logf(sum) - stats[N + blockIdx.x];
}

__global__ void cross_entropy_backward_kernel(float* probs, const int32_t* targets, int64_t start, float scale,
                                              int64_t n, int64_t V) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float onehot = (i % V) + start == targets[i / V] ? 1.f : 0.f;
    probs[i] = (probs[i] - onehot) * scale;
  }
}

int64_t real_columns(int64_t V, int64_t start, int64_t vocab_size) {
  return std::max<int64_t>(0, std::min(V, vocab_size - start));
}

}  // namespace

void CudaBackend::cross_entropy_row_max(const Tensor& logits, int64_t vocab_start, int64_t vocab_size,
                                        Tensor& row_max) {
  const OpScope prof(*this, "cross_entropy_row_max");
  const int64_t V = logits.size(-1), N = logits.numel() / V;
  TRIDENT_CHECK(row_max.numel() == N, "cross-entropy row_max shape");
  if (N == 0) return;
  row_max_kernel<<<unsigned(N), kThreads, 0, stream_>>>(f32_in(logits), V, real_columns(V, vocab_start, vocab_size),
                                                        f32_out(row_max));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::cross_entropy_exp_sums(Tensor& logits, const Tensor& row_max, const Tensor& targets,
                                         int64_t vocab_start, int64_t vocab_size, Tensor& stats) {
  const OpScope prof(*this, "cross_entropy_exp_sums");
  const int64_t V = logits.size(-1), N = logits.numel() / V;
  TRIDENT_CHECK(targets.numel() == N && row_max.numel() == N && stats.numel() == 2 * N, "cross-entropy shapes");
  if (N == 0) return;
  // Target ids are not range-checked on the device; the CPU backend's check covers the reference runs.
  exp_sums_kernel<<<unsigned(N), kThreads, 0, stream_>>>(f32_out(logits), f32_in(row_max), i32_in(targets),
                                                         vocab_start, V, real_columns(V, vocab_start, vocab_size), N,
                                                         f32_out(stats));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::cross_entropy_finish(Tensor& logits, const Tensor& stats, Tensor& losses) {
  const OpScope prof(*this, "cross_entropy_finish");
  const int64_t V = logits.size(-1), N = logits.numel() / V;
  TRIDENT_CHECK(stats.numel() == 2 * N && losses.numel() == N, "cross-entropy shapes");
  if (N == 0) return;
  finish_kernel<<<unsigned(N), kThreads, 0, stream_>>>(f32_out(logits), f32_in(stats), V, N, f32_out(losses));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::cross_entropy_backward(Tensor& probs, const Tensor& targets, int64_t vocab_start, float scale) {
  const OpScope prof(*this, "cross_entropy_backward");
  const int64_t V = probs.size(-1);
  cross_entropy_backward_kernel<<<grid_for(probs.numel()), kThreads, 0, stream_>>>(
      f32_out(probs), i32_in(targets), vocab_start, scale, probs.numel(), V);
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

}  // namespace trident::backend::cuda
