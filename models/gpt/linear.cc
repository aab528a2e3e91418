#include "models/gpt/linear.h"

namespace trident::gpt {

Linear::Linear(const std::string& name, int64_t in_features, int64_t out_features, float init_std, DType dtype)
    : weight(make_param(name + ".weight", {out_features, in_features}, InitKind::normal, init_std, true, dtype)),
      bias(make_param(name + ".bias", {out_features}, InitKind::zeros, 0.f, false, dtype)) {}

void Linear::forward(backend::Backend& be, const Tensor& x, Tensor& y) {
  be.gemm(x, false, weight.value, true, y);
  be.bias_add(y, bias.value);
}

void Linear::backward(backend::Backend& be, const Tensor& x, const Tensor& dy, Tensor& dx) {
  be.gemm(dy, false, weight.value, false, dx);              // dx (N, in) = dy · W
  be.gemm(dy, true, x, false, weight.grad, 1.f, 1.f);       // dW (out, in) += dyᵀ · x
  be.bias_backward(dy, bias.grad);
}

}  // namespace trident::gpt
