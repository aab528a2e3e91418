#include "models/gpt/layer_norm.h"

namespace trident::gpt {

LayerNorm::LayerNorm(const std::string& name, int64_t hidden, float eps_, DType dtype, bool sequence_parallel)
    : weight(make_param(name + ".weight", {hidden}, InitKind::ones, 0.f, false, dtype)),
      bias(make_param(name + ".bias", {hidden}, InitKind::zeros, 0.f, false, dtype)),
      eps(eps_) {
  weight.sequence_parallel = bias.sequence_parallel = sequence_parallel;
}

void LayerNorm::forward(backend::Backend& be, const Tensor& x, Context& ctx) {
  const int64_t N = x.numel() / x.size(-1);
  ctx.out = Tensor::empty(x.shape(), x.dtype(), x.device());
  ctx.mean = Tensor::empty({N}, DType::f32, x.device());
  ctx.rstd = Tensor::empty({N}, DType::f32, x.device());
  be.layernorm_forward(x, weight.value, bias.value, eps, ctx.out, ctx.mean, ctx.rstd);
}

void LayerNorm::backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx) {
  be.layernorm_backward(dout, x, weight.value, ctx.mean, ctx.rstd, dx, weight.grad, bias.grad);
}

}  // namespace trident::gpt
