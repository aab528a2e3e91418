// Chooses a backend by device. The CUDA entry points are defined in cuda/
// when the build has the CUDA backend, and here (as clear errors) when not.
#include "framework/backend/backend.h"

#include "framework/core/error.h"

namespace trident::backend {

#ifndef TRIDENT_WITH_CUDA
bool cuda_backend_built() { return false; }
int cuda_device_count() { return 0; }
std::unique_ptr<Backend> make_cuda_backend(int) {
  throw UsageError(
      "this build of trident has no CUDA backend: install the CUDA toolkit with NCCL and rebuild "
      "(-DTRIDENT_CUDA=ON), or use --device cpu");
}
#endif

std::unique_ptr<Backend> make_backend(Device device, int threads, int cuda_device) {
  if (device == Device::cuda) return make_cuda_backend(cuda_device);
  return make_cpu_backend(threads);
}

}  // namespace trident::backend

namespace trident::backend {

void Backend::linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  gemm(x, false, w, true, y);
  bias_add(y, b);
}

FixedWeights::FixedWeights(Backend& backend, const std::vector<Param*>& params) : backend_(backend) {
  std::vector<const Tensor*> values;
  values.reserve(params.size());
  for (const Param* p : params) values.push_back(&p->value);
  backend_.begin_fixed_weights(values);
}

void Backend::linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw) {
  gemm(dy, false, w, false, dx);
  gemm(dy, true, x, false, dw, 1.f, 1.f);
}

Shape Backend::attention_saved_shape(int64_t B, int64_t n_heads, int64_t /*n_kv_heads*/, int64_t T, int64_t,
                                     DType) const {
  return {B, n_heads, T, T};
}

std::vector<double> Backend::sum_squares_each(const std::vector<const Tensor*>& xs) {
  std::vector<double> sums;
  sums.reserve(xs.size());
  for (const Tensor* x : xs) sums.push_back(sum_squares(*x));
  return sums;
}

void Backend::cross_entropy_forward(Tensor& logits, const Tensor& targets, Tensor& losses) {
  const int64_t V = logits.size(-1), N = logits.numel() / V;
  Tensor row_max = Tensor::empty({N}, DType::f32, logits.device());
  Tensor stats = Tensor::empty({2, N}, DType::f32, logits.device());
  cross_entropy_row_max(logits, 0, V, row_max);
  cross_entropy_exp_sums(logits, row_max, targets, 0, V, stats);
  cross_entropy_finish(logits, stats, losses);
}

}  // namespace trident::backend
