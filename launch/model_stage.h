// ModelStage: the model's side of the pipeline contract for one iteration
// (training) or one evaluation batch. Each micro-batch's tokens and targets
// come from a BatchSource (the first and last stage draw the same ones);
// forward and backward run through this rank's model chunks; the last stage
// sums the micro-batch losses. A forward-only schedule never calls backward.
#pragma once

#include "framework/backend/backend.h"
#include "framework/data/batch_source.h"
#include "framework/pipeline/executor.h"
#include "models/gpt/gpt_model.h"

namespace trident::launch {

class ModelStage final : public pipeline::PipelineStage {
 public:
  struct MicroBatch final : Activations {
    gpt::GptActivations act;
  };
  // This rank's micro-batch mb is global samples first_sample + mb · micro_batch_size
  // onwards; `ready` is told when a parameter's gradient is final.
  ModelStage(gpt::GptModel& model, backend::Backend& be, const data::BatchSource& data, int64_t first_sample,
             int64_t micro_batch_size, int64_t micro_batches, float loss_grad, const gpt::GradReadyHook* ready)
      : model_(model), be_(be), data_(data), first_sample_(first_sample), mbs_(micro_batch_size),
        n_mb_(micro_batches), loss_grad_(loss_grad), ready_(ready) {}

  std::unique_ptr<Activations> forward(int mb, int chunk, const Tensor& input, Tensor& output) override;
  void backward(int mb, int chunk, Activations& act, const Tensor& grad_output, Tensor& grad_input) override;
  Tensor boundary_buffer() override;

  double loss_sum = 0.0;  // of the micro-batch mean losses, on the last stage

 private:
  gpt::GptModel& model_;
  backend::Backend& be_;
  const data::BatchSource& data_;
  int64_t first_sample_, mbs_, n_mb_;
  float loss_grad_;
  const gpt::GradReadyHook* ready_;
};

}  // namespace trident::launch
