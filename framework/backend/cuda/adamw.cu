// AdamW, the same update as the CPU backend's (torch.optim.AdamW semantics).
#include <cmath>

#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/launch_utils.cuh"

namespace trident::backend::cuda {
namespace {

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, int64_t n, float beta1, float beta2,
                             float eps, float decay, float step_size, float inv_sqrt_bias2) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + (1.f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step_size * mi / (sqrtf(vi) * inv_sqrt_bias2 + eps);
  }
}

}  // namespace

void CudaBackend::adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& s) {
  const OpScope prof(*this, "adamw_update");
  TRIDENT_CHECK(param.numel() == grad.numel() && param.numel() == m.numel() && param.numel() == v.numel(),
                "adamw shapes");
  const double bias1 = 1.0 - std::pow(double(s.beta1), double(s.step));
  const double bias2 = 1.0 - std::pow(double(s.beta2), double(s.step));
  adamw_kernel<<<grid_for(param.numel()), kThreads, 0, stream_>>>(
      f32_out(param), f32_in(grad), f32_out(m), f32_out(v), param.numel(), s.beta1, s.beta2, s.eps,
      1.f - s.lr * s.weight_decay, float(double(s.lr) / bias1), float(1.0 / std::sqrt(bias2)));
  CUDA_CHECK_LAUNCH();
}

}  // namespace trident::backend::cuda
