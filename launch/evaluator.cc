#include "launch/evaluator.h"

#include "launch/model_stage.h"

namespace trident::launch {

Evaluator::Evaluator(TrainingParts& parts)
    : parts_(parts),
      batches_(parts.validation_views(), parts.validation_weights(), parts.cfg.model.seq_length, parts.cfg.seed) {
  const pipeline::ScheduleShape shape = parts.cfg.schedule_shape(parts.groups->layout().dp);
  executor_ = std::make_unique<pipeline::Executor>(
      pipeline::forward_only_schedule(shape)[size_t(parts.groups->coord().pp)], shape, parts.groups->pp());
}

double Evaluator::evaluate() {
  const TrainConfig& cfg = parts_.cfg;
  dist::ProcessGroups& g = *parts_.groups;
  const int dp = g.layout().dp;
  const int64_t n_mb = cfg.num_micro_batches(dp);
  const int64_t first_sample = g.coord().dp * (cfg.global_batch_size / dp);
  double loss_sum = 0.0;  // of micro-batch mean losses, on the last stage
  {
    const backend::FixedWeights fixed(*parts_.backend, parts_.model->params());  // Note [fixed weights]
    for (int64_t batch = 0; batch < cfg.eval_iters; ++batch) {
      ModelStage stage(*parts_.model, *parts_.backend, batches_, batch * cfg.global_batch_size + first_sample,
                       cfg.micro_batch_size, n_mb, /*loss_grad=*/0.f, /*ready=*/nullptr);
      executor_->run(stage);
      loss_sum += stage.loss_sum;
    }
  }
  // The last stage's mean, to every stage, averaged over DP.
  Tensor loss = Tensor::from_vector({float(loss_sum / double(n_mb * cfg.eval_iters))}, {1});
  if (g.layout().pp > 1) g.pp().broadcast(loss, g.layout().pp - 1);
  g.dp().all_reduce(loss, dist::ReduceOp::sum);
  return double(loss.item(0)) / dp;
}

}  // namespace trident::launch
