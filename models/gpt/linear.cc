#include "models/gpt/linear.h"

namespace trident::gpt {

ColumnParallelLinear::ColumnParallelLinear(const std::string& name, int64_t in_features, int64_t out_features,
                                           float init_std, DType dtype, parallel::TpGroup tp_, int64_t blocks)
    : weight(make_sharded_param(name + ".weight", {out_features, in_features},
                                ShardSpec::split(0, out_features, tp_.rank(), tp_.size(), blocks), InitKind::normal,
                                init_std, true, dtype)),
      bias(make_sharded_param(name + ".bias", {out_features},
                              ShardSpec::split(0, out_features, tp_.rank(), tp_.size(), blocks), InitKind::zeros, 0.f,
                              false, dtype)),
      tp(tp_) {
  if (tp.size() == 1) weight.shard = bias.shard = ShardSpec{};  // a group of one holds everything
}

void ColumnParallelLinear::forward(backend::Backend& be, const Tensor& x, Tensor& y) {
  // copy_to_tensor_parallel_region forward: identity (x is the same on every TP rank).
  be.linear_forward(x, weight.value, bias.value, y);
}

void ColumnParallelLinear::backward(backend::Backend& be, const Tensor& x, const Tensor& dy, Tensor& dx) {
  // dx (N, in) = dy · W, partial over TP; dW (out/tp, in) += dyᵀ · x.
  be.linear_backward(dy, x, weight.value, dx, weight.grad);
  parallel::copy_to_tensor_parallel_region_backward(tp, dx);
  be.bias_backward(dy, bias.grad);
}

RowParallelLinear::RowParallelLinear(const std::string& name, int64_t in_features, int64_t out_features,
                                     float init_std, DType dtype, parallel::TpGroup tp_)
    : weight(make_sharded_param(name + ".weight", {out_features, in_features},
                                ShardSpec::split(1, in_features, tp_.rank(), tp_.size()), InitKind::normal, init_std,
                                true, dtype)),
      bias(make_param(name + ".bias", {out_features}, InitKind::zeros, 0.f, false, dtype)),
      tp(tp_) {
  if (tp.size() == 1) weight.shard = ShardSpec{};
}

void RowParallelLinear::forward(backend::Backend& be, const Tensor& x, Tensor& y) {
  if (tp.size() == 1) {
    be.linear_forward(x, weight.value, bias.value, y);
    return;
  }
  be.gemm(x, false, weight.value, true, y);  // partial sums over this rank's inputs
  parallel::reduce_from_tensor_parallel_region_forward(tp, y);
  be.bias_add(y, bias.value);                // once, after the sum
}

void RowParallelLinear::backward(backend::Backend& be, const Tensor& x, const Tensor& dy, Tensor& dx) {
  // reduce_from_tensor_parallel_region backward: identity (dy is whole on every rank).
  // dx (N, in/tp) = dy · W; dW (out, in/tp) += dyᵀ · x.
  be.linear_backward(dy, x, weight.value, dx, weight.grad);
  be.bias_backward(dy, bias.grad);
}

}  // namespace trident::gpt
