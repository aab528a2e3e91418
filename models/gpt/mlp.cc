#include "models/gpt/mlp.h"

#include <cmath>

namespace trident::gpt {

Mlp::Mlp(const std::string& name, const GptConfig& cfg, parallel::TpGroup tp)
    : fc1(name + ".fc1", cfg.hidden_size, cfg.ffn_hidden_size(), cfg.init_method_std, cfg.dtype, tp),
      fc2(name + ".fc2", cfg.ffn_hidden_size(), cfg.hidden_size, cfg.output_init_std(),
          cfg.dtype, tp) {}

void Mlp::forward(backend::Backend& be, const Tensor& x, Context& ctx, Tensor& out) {
  // Under SP x and out are this rank's rows (N/tp, C); fc1 gathers all N.
  const int64_t N = x.size(0) * fc1.tp.sequence_shards(), F = fc1.weight.value.size(0);
  ctx.fc1_out = Tensor::empty({N, F}, x.dtype(), x.device());
  ctx.act = Tensor::empty({N, F}, x.dtype(), x.device());
  fc1.forward(be, x, ctx.fc1_out);
  be.gelu_forward(ctx.fc1_out, ctx.act);
  fc2.forward(be, ctx.act, out);
}

void Mlp::backward(backend::Backend& be, const Tensor& x, const Context& ctx, const Tensor& dout, Tensor& dx) {
  Tensor dact = Tensor::empty(ctx.act.shape(), x.dtype(), x.device());
  fc2.backward(be, ctx.act, dout, dact);
  be.gelu_backward(ctx.fc1_out, dact, dact);  // elementwise: safe in place
  fc1.backward(be, x, dact, dx);
}

}  // namespace trident::gpt
