#include "models/gpt/norm.h"

namespace trident::gpt {

Norm::Norm(const std::string& name, const GptConfig& cfg, bool sequence_parallel)
    : rms(cfg.rms_norm()),
      weight(make_param(name + ".weight", {cfg.hidden_size}, InitKind::ones, 0.f, false, cfg.dtype)),
      eps(cfg.norm_epsilon) {
  if (!rms) bias = make_param(name + ".bias", {cfg.hidden_size}, InitKind::zeros, 0.f, false, cfg.dtype);
  weight.sequence_parallel = bias.sequence_parallel = sequence_parallel;
}

std::vector<Param*> Norm::params() {
  if (rms) return {&weight};
  return {&weight, &bias};
}

void Norm::forward(backend::Backend& be, const Tensor& x, Context& ctx) {
  const int64_t N = x.numel() / x.size(-1);
  ctx.out = Tensor::empty(x.shape(), x.dtype(), x.device());
  ctx.rstd = Tensor::empty({N}, DType::f32, x.device());
  if (rms) return be.rmsnorm_forward(x, weight.value, eps, ctx.out, ctx.rstd);
  ctx.mean = Tensor::empty({N}, DType::f32, x.device());
  be.layernorm_forward(x, weight.value, bias.value, eps, ctx.out, ctx.mean, ctx.rstd);
}

void Norm::backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx) {
  if (rms) return be.rmsnorm_backward(dout, x, weight.value, ctx.rstd, dx, weight.grad);
  be.layernorm_backward(dout, x, weight.value, ctx.mean, ctx.rstd, dx, weight.grad, bias.grad);
}

}  // namespace trident::gpt
