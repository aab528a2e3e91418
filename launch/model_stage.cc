#include "launch/model_stage.h"

namespace trident::launch {

std::unique_ptr<ModelStage::Activations> ModelStage::forward(int mb, int chunk, const Tensor& input, Tensor& output) {
  auto m = std::make_unique<MicroBatch>();
  Tensor in = input, targets;
  if (model_.is_first_stage(chunk) || model_.is_last_stage(chunk)) {
    const int64_t T = model_.config().seq_length;
    Tensor tokens = Tensor::empty({mbs_, T}, DType::i32);
    targets = Tensor::empty({mbs_, T}, DType::i32);
    data_.fill(first_sample_ + mb * mbs_, mbs_, tokens, targets);
    const Device device = model_.config().device;
    if (device != Device::cpu) {
      tokens = tokens.to(device);
      targets = targets.to(device);
    }
    if (model_.is_first_stage(chunk)) in = tokens;
  }
  loss_sum += model_.forward(be_, chunk, in, targets, m->act);
  if (!model_.is_last_stage(chunk)) output = m->act.output();
  return m;
}

void ModelStage::backward(int mb, int chunk, Activations& act, const Tensor& grad_output, Tensor& grad_input) {
  // Each chunk's backwards run in micro-batch order: the last one finishes its gradients.
  model_.backward(be_, chunk, static_cast<MicroBatch&>(act).act, grad_output, loss_grad_, grad_input,
                  mb + 1 == n_mb_ ? ready_ : nullptr);
}

Tensor ModelStage::boundary_buffer() {
  // (B, T, C), or this rank's rows (B, T/tp, C) under sequence parallelism.
  const gpt::GptConfig& c = model_.config();
  return Tensor::empty(model_.boundary_shape(mbs_), c.dtype, c.device);
}

}  // namespace trident::launch
