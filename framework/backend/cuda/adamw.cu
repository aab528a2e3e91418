// AdamW, the same update as the CPU backend's (torch.optim.AdamW semantics).
#include <cmath>

#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/element.cuh"

namespace trident::backend::cuda {
namespace {

struct AdamWArgs {
  float beta1, beta2, eps, decay, step_size, inv_sqrt_bias2, grad_scale;
};

__device__ __forceinline__ float adamw_element(float& p, float g, float& m, float& v, const AdamWArgs& a) {
  const float gi = g * a.grad_scale;
  m = a.beta1 * m + (1.f - a.beta1) * gi;
  v = a.beta2 * v + (1.f - a.beta2) * gi * gi;
  p = p * a.decay - a.step_size * m / (sqrtf(v) * a.inv_sqrt_bias2 + a.eps);
  return p;
}

// One pass over param, grad, m, v (f32) and, unless T is void, the rounded
// copy: 4 elements per step with 128-bit loads when VEC.
template <typename T, bool VEC>
__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, T* rounded, int64_t n, AdamWArgs a) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  if constexpr (VEC) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n / 4; i += stride) {
      float4 pp = reinterpret_cast<float4*>(p)[i], mm = reinterpret_cast<float4*>(m)[i];
      float4 vv = reinterpret_cast<float4*>(v)[i];
      const float4 gg = reinterpret_cast<const float4*>(g)[i];
      adamw_element(pp.x, gg.x, mm.x, vv.x, a);
      adamw_element(pp.y, gg.y, mm.y, vv.y, a);
      adamw_element(pp.z, gg.z, mm.z, vv.z, a);
      adamw_element(pp.w, gg.w, mm.w, vv.w, a);
      reinterpret_cast<float4*>(p)[i] = pp;
      reinterpret_cast<float4*>(m)[i] = mm;
      reinterpret_cast<float4*>(v)[i] = vv;
      if (rounded) {
        rounded[4 * i] = from_float<T>(pp.x);
        rounded[4 * i + 1] = from_float<T>(pp.y);
        rounded[4 * i + 2] = from_float<T>(pp.z);
        rounded[4 * i + 3] = from_float<T>(pp.w);
      }
    }
  } else {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += stride) {
      const float r = adamw_element(p[i], g[i], m[i], v[i], a);
      if (rounded) rounded[i] = from_float<T>(r);
    }
  }
}

}  // namespace

void CudaBackend::adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& s) {
  const OpScope prof(*this, "adamw_update");
  TRIDENT_CHECK(param.numel() == grad.numel() && param.numel() == m.numel() && param.numel() == v.numel(),
                "adamw shapes");
  TRIDENT_CHECK(!s.rounded_copy || s.rounded_copy->numel() == param.numel(), "adamw rounded copy shape");
  const int64_t n = param.numel();
  if (n == 0) return;
  const double bias1 = 1.0 - std::pow(double(s.beta1), double(s.step));
  const double bias2 = 1.0 - std::pow(double(s.beta2), double(s.step));
  const AdamWArgs args{s.beta1, s.beta2, s.eps, 1.f - s.lr * s.weight_decay, float(double(s.lr) / bias1),
                       float(1.0 / std::sqrt(bias2)), s.grad_scale};
  const DType copy_type = s.rounded_copy ? s.rounded_copy->dtype() : DType::f32;
  dispatch_float(copy_type, "adamw_update", [&]<typename T>() {
    T* rounded = s.rounded_copy ? out<T>(*s.rounded_copy) : nullptr;
    if (vectorisable(n, 4, {param.raw(), grad.raw(), m.raw(), v.raw()}))
      adamw_kernel<T, true><<<grid_for(n / 4), kThreads, 0, stream_>>>(f32_out(param), f32_in(grad), f32_out(m),
                                                                       f32_out(v), rounded, n, args);
    else
      adamw_kernel<T, false><<<grid_for(n), kThreads, 0, stream_>>>(f32_out(param), f32_in(grad), f32_out(m),
                                                                    f32_out(v), rounded, n, args);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

}  // namespace trident::backend::cuda
