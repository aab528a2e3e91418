#include "models/gpt/mlp.h"

#include <cmath>

namespace trident::gpt {

Mlp::Mlp(const std::string& name, const GptConfig& cfg, parallel::TpGroup tp)
    : swiglu(cfg.swiglu),
      fc1(name + ".fc1", cfg.hidden_size, (cfg.swiglu ? 2 : 1) * cfg.ffn_hidden(), cfg.init_method_std, cfg.dtype, tp,
          /*blocks=*/cfg.swiglu ? 2 : 1, cfg.bias_linear()),
      fc2(name + ".fc2", cfg.ffn_hidden(), cfg.hidden_size, cfg.output_init_std(), cfg.dtype, tp, 1,
          cfg.bias_linear()) {}

std::vector<Param*> Mlp::params() {
  std::vector<Param*> out = fc1.params();
  for (Param* p : fc2.params()) out.push_back(p);
  return out;
}

void Mlp::forward(backend::Backend& be, const Tensor& x, Context& ctx, Tensor& out) {
  // Under SP x and out are this rank's rows (N/tp, C); fc1 gathers all N.
  const int64_t N = x.size(0) * fc1.tp.sequence_shards(), F1 = fc1.weight.value.size(0),
                F = fc2.weight.value.size(1);
  ctx.fc1_out = Tensor::empty({N, F1}, x.dtype(), x.device());
  ctx.act = Tensor::empty({N, F}, x.dtype(), x.device());
  fc1.forward(be, x, ctx.fc1_out);
  if (swiglu)
    be.swiglu_forward(ctx.fc1_out, ctx.act);
  else
    be.gelu_forward(ctx.fc1_out, ctx.act);
  fc2.forward(be, ctx.act, out);
}

void Mlp::backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx) {
  Tensor dact = Tensor::empty(ctx.act.shape(), x.dtype(), x.device());
  fc2.backward(be, ctx.act, dout, dact);
  Tensor dfc1 = dact;  // GELU is elementwise: its backward is safe in place
  if (swiglu) {
    dfc1 = Tensor::empty(ctx.fc1_out.shape(), x.dtype(), x.device());
    be.swiglu_backward(ctx.fc1_out, dact, dfc1);
  } else {
    be.gelu_backward(ctx.fc1_out, dact, dfc1);
  }
  fc1.backward(be, x, dfc1, dx);
}

}  // namespace trident::gpt
