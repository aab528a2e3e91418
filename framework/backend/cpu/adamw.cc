// AdamW (Loshchilov & Hutter) in f32, the update PyTorch's torch.optim.AdamW
// performs: decoupled weight decay, then the bias-corrected Adam step.
#include "framework/backend/cpu/cpu_backend.h"

#include <cmath>
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {

void CpuBackend::adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& s) {
  TRIDENT_CHECK(param.numel() == grad.numel() && param.numel() == m.numel() && param.numel() == v.numel(),
                "adamw shapes");
  float* p = param.data<float>();
  const float* g = grad.data<float>();
  float* mp = m.data<float>();
  float* vp = v.data<float>();
  const int64_t n = param.numel();
  const double bias1 = 1.0 - std::pow(double(s.beta1), double(s.step));
  const double bias2 = 1.0 - std::pow(double(s.beta2), double(s.step));
  const float step_size = float(double(s.lr) / bias1);
  const float inv_sqrt_bias2 = float(1.0 / std::sqrt(bias2));
  const float decay = 1.f - s.lr * s.weight_decay;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] * s.grad_scale;
    mp[i] = s.beta1 * mp[i] + (1.f - s.beta1) * gi;
    vp[i] = s.beta2 * vp[i] + (1.f - s.beta2) * gi * gi;
    const float denom = std::sqrt(vp[i]) * inv_sqrt_bias2 + s.eps;
    p[i] = p[i] * decay - step_size * mp[i] / denom;
  }
  if (s.rounded_copy) s.rounded_copy->copy_from(param);
}

}  // namespace trident::backend
