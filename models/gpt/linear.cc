#include "models/gpt/linear.h"

namespace trident::gpt {
namespace {

// y (N, out) = x · wᵀ (+ b when the layer has one).
void linear(backend::Backend& be, const Tensor& x, const Param& w, const Param& b, Tensor& y) {
  if (b.value.defined()) return be.linear_forward(x, w.value, b.value, y);
  be.gemm(x, false, w.value, true, y);
}

std::vector<Param*> weight_and_bias(Param& w, Param& b) {
  if (b.value.defined()) return {&w, &b};
  return {&w};
}

}  // namespace

ColumnParallelLinear::ColumnParallelLinear(const std::string& name, int64_t in_features, int64_t out_features,
                                           float init_std, DType dtype, parallel::TpGroup tp_, int64_t blocks,
                                           bool with_bias)
    : weight(make_sharded_param(name + ".weight", {out_features, in_features},
                                ShardSpec::split(0, out_features, tp_.rank(), tp_.size(), blocks), InitKind::normal,
                                init_std, true, dtype)),
      tp(tp_) {
  if (with_bias)
    bias = make_sharded_param(name + ".bias", {out_features},
                              ShardSpec::split(0, out_features, tp_.rank(), tp_.size(), blocks), InitKind::zeros, 0.f,
                              false, dtype);
  if (tp.size() == 1) weight.shard = bias.shard = ShardSpec{};  // a group of one holds everything
}

std::vector<Param*> ColumnParallelLinear::params() { return weight_and_bias(weight, bias); }

Tensor ColumnParallelLinear::gathered_input(const Tensor& x) const {
  const int64_t rows = x.size(0) * tp.sequence_shards(), in = x.size(1);
  Tensor full = Tensor::empty({rows, in}, x.dtype(), x.device());  // (N, in)
  parallel::gather_from_sequence_parallel_region_forward(tp, x, full);
  return full;
}

void ColumnParallelLinear::forward(backend::Backend& be, const Tensor& x, Tensor& y) {
  if (tp.sequence_shards() > 1) return linear(be, gathered_input(x), weight, bias, y);
  // copy_to_tensor_parallel_region forward: identity (x is the same on every TP rank).
  linear(be, x, weight, bias, y);
}

void ColumnParallelLinear::backward(backend::Backend& be, const Tensor& x, const Tensor& dy, Tensor& dx) {
  if (bias.value.defined()) be.bias_backward(dy, bias.grad);
  if (tp.sequence_shards() > 1) {
    // dx (N, in) = dy · W, partial over TP; dW (out/tp, in) += dyᵀ · x over the whole x, gathered again.
    Tensor dx_full = Tensor::empty({dy.size(0), x.size(1)}, dx.dtype(), dx.device());
    be.linear_backward(dy, gathered_input(x), weight.value, dx_full, weight.grad);
    parallel::gather_from_sequence_parallel_region_backward(tp, dx_full, dx);
    return;
  }
  // dx (N, in) = dy · W, partial over TP; dW (out/tp, in) += dyᵀ · x.
  be.linear_backward(dy, x, weight.value, dx, weight.grad);
  parallel::copy_to_tensor_parallel_region_backward(tp, dx);
}

RowParallelLinear::RowParallelLinear(const std::string& name, int64_t in_features, int64_t out_features,
                                     float init_std, DType dtype, parallel::TpGroup tp_, int64_t blocks,
                                     bool with_bias)
    : weight(make_sharded_param(name + ".weight", {out_features, in_features},
                                ShardSpec::split(1, in_features, tp_.rank(), tp_.size(), blocks), InitKind::normal,
                                init_std, true, dtype)),
      tp(tp_) {
  if (with_bias) bias = make_param(name + ".bias", {out_features}, InitKind::zeros, 0.f, false, dtype);
  if (tp.size() == 1) weight.shard = ShardSpec{};
  // Under SP the bias is added to this rank's rows only, so its gradient covers them only.
  bias.sequence_parallel = tp.sequence_shards() > 1;
}

std::vector<Param*> RowParallelLinear::params() { return weight_and_bias(weight, bias); }

void RowParallelLinear::forward(backend::Backend& be, const Tensor& x, Tensor& y) {
  if (tp.size() == 1) return linear(be, x, weight, bias, y);
  if (tp.sequence_shards() > 1) {
    Tensor partial = Tensor::empty({x.size(0), y.size(1)}, y.dtype(), y.device());  // (N, out)
    be.gemm(x, false, weight.value, true, partial);  // partial sums over this rank's inputs
    parallel::reduce_scatter_to_sequence_parallel_region_forward(tp, partial, y);
  } else {
    be.gemm(x, false, weight.value, true, y);  // partial sums over this rank's inputs
    parallel::reduce_from_tensor_parallel_region_forward(tp, y);
  }
  if (bias.value.defined()) be.bias_add(y, bias.value);  // once, after the sum
}

void RowParallelLinear::backward(backend::Backend& be, const Tensor& x, const Tensor& dy, Tensor& dx) {
  if (bias.value.defined()) be.bias_backward(dy, bias.grad);  // under SP: this rank's rows' share
  if (tp.sequence_shards() > 1) {
    Tensor dy_full = Tensor::empty({x.size(0), dy.size(1)}, dy.dtype(), dy.device());  // (N, out)
    parallel::reduce_scatter_to_sequence_parallel_region_backward(tp, dy, dy_full);
    be.linear_backward(dy_full, x, weight.value, dx, weight.grad);
    return;
  }
  // reduce_from_tensor_parallel_region backward: identity (dy is whole on every rank).
  // dx (N, in/tp) = dy · W; dW (out, in/tp) += dyᵀ · x.
  be.linear_backward(dy, x, weight.value, dx, weight.grad);
}

}  // namespace trident::gpt
