#include "launch/train_step.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "framework/core/memory_category.h"
#include "framework/data/sampler.h"
#include "launch/model_stage.h"
#include "launch/stop_signal.h"
#include "optim/grad_clip.h"

namespace trident::launch {

TrainStep::TrainStep(TrainingParts& parts) : parts_(parts), faults_(parts.cfg.inject_faults) {
  const TrainConfig& cfg = parts.cfg;
  const pipeline::ScheduleShape shape = cfg.schedule_shape(parts.groups->layout().dp);
  schedule_ = pipeline::make_schedule(cfg.schedule_kind(), shape);
  executor_ = std::make_unique<pipeline::Executor>(schedule_[size_t(parts.groups->coord().pp)], shape,
                                                   parts.groups->pp());
  buckets_ = std::make_unique<parallel::GradBuckets>(parts.model->params(), parts.groups->dp(), cfg.ddp_bucket_size,
                                                     cfg.overlap_grad_reduce, cfg.use_distributed_optimizer);
  optimizer_ = std::make_unique<optim::AdamW>(buckets_->owned(), cfg.adam);
  scaler_ = std::make_unique<optim::LossScaler>(cfg.loss_scaler);
  lr_ = cfg.lr_schedule();
}

double TrainStep::forward_backward(const RunState& state, float loss_scale, Trace* trace) {
  const TrainConfig& cfg = parts_.cfg;
  const int dp = parts_.groups->layout().dp;
  const int64_t n_mb = cfg.num_micro_batches(dp);
  // This DP rank's share of the global batch: Note [layout-independent sampling].
  const int64_t first_sample = state.consumed_samples + parts_.groups->coord().dp * (cfg.global_batch_size / dp);
  const data::GlobalBatchSampler sampler(parts_.train_views(), parts_.weights, cfg.model.seq_length, state.data_seed,
                                         state.sampler_batch);
  Param* const table = tied_table();
  const gpt::GradReadyHook ready = [this, table](Param& p) {
    if (&p == table) return;  // summed with its other half first, below
    // Sequence parallelism: each TP rank's gradient covers its tokens only (a blocking sum, before the DP one).
    if (p.sequence_parallel) parts_.groups->tp().all_reduce(p.grad, dist::ReduceOp::sum);
    buckets_->mark_ready(p);
  };
  parts_.model->zero_grad();
  // The loss gradient is scaled by 1/(micro-batches · dp), so the DP sum of
  // gradients is the global mean; and by the loss scale, undone by the clip coefficient.
  ModelStage stage(*parts_.model, *parts_.backend, sampler, first_sample, cfg.micro_batch_size, n_mb,
                   loss_scale / float(n_mb * dp), &ready);
  {
    // Nothing writes a parameter until the optimizer: Note [fixed weights].
    const backend::FixedWeights fixed(*parts_.backend, parts_.model->params());
    const MemoryCategoryScope scope(MemoryCategory::activations);  // what the pipeline keeps and makes (docs/memory.md)
    executor_->run(stage);
  }
  const double reduce_start = trace_clock();
  // The tied token table: the embedding's and the output layer's halves of its gradient, summed on both
  // stages before the data-parallel reduction (which, sharded, leaves no whole gradient to sum afterwards).
  if (table) {
    parts_.groups->embedding()->all_reduce(table->grad, dist::ReduceOp::sum);
    buckets_->mark_ready(*table);
  }
  buckets_->finish();
  if (trace) {
    trace->pipeline_actions(executor_->timings(), cfg.num_virtual_stages > 1);
    trace->span("data-parallel reduction (not overlapped)", "all-reduce", reduce_start, trace_clock());
  }
  return stage.loss_sum;
}

Param* TrainStep::tied_table() {
  if (parts_.groups->layout().pp == 1 || !parts_.groups->embedding() || !parts_.cfg.model.tied_output()) return nullptr;
  gpt::GptModel& m = *parts_.model;
  return m.output_word_copy() ? m.output_word_copy() : m.input_word_embeddings();
}

std::vector<Tensor> TrainStep::owned_grads() const {
  std::vector<Tensor> grads;
  for (const parallel::OwnedShard& s : buckets_->owned()) grads.push_back(s.grad.defined() ? s.grad : s.param->grad);
  return grads;
}

const char* stop_reason_text(StopReason reason) {
  switch (reason) {
    case StopReason::none: return "";
    case StopReason::exit_interval: return "--exit-interval reached";
    case StopReason::time_limit: return "--exit-duration-in-mins reached";
    case StopReason::signal: return "stop signal received";
  }
  return "";
}

std::pair<bool, StopReason> TrainStep::found_inf_or_stop(const std::vector<double>& grad_sums, bool time_up) {
  // Σg² is non-finite exactly when some element is: found-inf on any rank (TP, PP and DP alike).
  const bool bad = !std::all_of(grad_sums.begin(), grad_sums.end(), [](double v) { return std::isfinite(v); });
  // With it, whether a stop signal reached any rank: every rank then stops at the same iteration.
  Tensor found = Tensor::empty({2}, DType::i32);
  found.data<int32_t>()[0] = bad ? 1 : 0;
  const StopReason mine = stop_signal_received() != 0 ? StopReason::signal
                          : time_up                    ? StopReason::time_limit
                                                       : StopReason::none;
  found.data<int32_t>()[1] = int32_t(mine);
  parts_.groups->world().all_reduce(found, dist::ReduceOp::max);
  return {found.data<int32_t>()[0] != 0, StopReason(found.data<int32_t>()[1])};
}

void TrainStep::update(IterationStats& s, const std::vector<double>& grad_sums, float loss_scale, Trace* trace) {
  if (s.skipped) {
    s.grad_norm = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  const double start = trace_clock();
  // Unscaling and clipping are one coefficient, applied by AdamW as it reads the grads.
  std::vector<Param*> params;
  for (const parallel::OwnedShard& shard : buckets_->owned()) params.push_back(shard.param);
  dist::ProcessGroups& g = *parts_.groups;
  const optim::GradClip clip = optim::grad_clip_coefficient(
      params, grad_sums, parts_.cfg.clip_grad,
      {&g.model_parallel(), g.coord().tp, distributed_optimizer() ? &g.dp() : nullptr}, loss_scale);
  s.grad_norm = clip.norm;
  optimizer_->step(*parts_.backend, s.lr, clip.coeff);
  if (trace) trace->span("clip + AdamW", "optimizer", start, trace_clock());
  if (distributed_optimizer()) {
    const double gather_start = trace_clock();
    buckets_->gather_parameters();
    if (trace) trace->span("data-parallel parameter all-gather", "all-gather", gather_start, trace_clock());
  }
}

IterationStats TrainStep::run(int64_t iteration, RunState& state, Trace* trace, bool time_up) {
  const auto start = std::chrono::steady_clock::now();
  const TrainConfig& cfg = parts_.cfg;
  dist::ProcessGroups& g = *parts_.groups;
  IterationStats s;
  s.iteration = iteration;
  s.data_batch = state.consumed_samples / cfg.global_batch_size + 1;
  const float loss_scale = float(scaler_->scale());
  s.loss_scale = loss_scale;
  const double loss_sum = forward_backward(state, loss_scale, trace);
  state.consumed_samples += cfg.global_batch_size;  // a skipped step consumes its samples too (as Megatron)
  std::vector<Tensor> grads = owned_grads();  // handles: writing one writes the gradient
  // --inject-fault nan@I:R — after the DP reduction, so only rank R sees it.
  if (faults_.fires(InjectedFault::Kind::nan, iteration, parts_.world->rank) && !grads.empty())
    grads.front().set(0, std::numeric_limits<float>::quiet_NaN());
  std::vector<const Tensor*> grad_ptrs;
  for (const Tensor& t : grads) grad_ptrs.push_back(&t);
  const std::vector<double> grad_sums = parts_.backend->sum_squares_each(grad_ptrs);  // for the check and the norm
  std::tie(s.skipped, s.stop) = found_inf_or_stop(grad_sums, time_up);
  if (s.stop == StopReason::none && cfg.exit_interval > 0 && iteration % cfg.exit_interval == 0)
    s.stop = StopReason::exit_interval;
  // For the log only: the last stage's loss, to every stage, averaged over DP.
  const int64_t n_mb = cfg.num_micro_batches(g.layout().dp);
  Tensor loss_t = Tensor::from_vector({float(loss_sum / double(n_mb))}, {1});
  if (g.layout().pp > 1) g.pp().broadcast(loss_t, g.layout().pp - 1);
  g.dp().all_reduce(loss_t, dist::ReduceOp::sum);
  s.loss = double(loss_t.item(0)) / g.layout().dp;
  // The schedule advances on successful updates only (as Megatron's): a skipped step retries its LR.
  s.lr = float(lr_.at(optimizer_->steps_taken() + 1) * state.lr_scale);
  // --inject-fault spike@I: one step at 1000x the learning rate (every rank alike).
  if (faults_.fires(InjectedFault::Kind::spike, iteration, parts_.world->rank)) s.lr *= 1000.f;
  if (s.skipped) ++state.skipped_iterations;
  update(s, grad_sums, loss_scale, trace);
  scaler_->update(s.skipped);
  parts_.backend->synchronize();  // the time below covers the device's work too
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (trace) trace->span("iteration " + std::to_string(iteration), "iteration", trace_clock() - s.seconds, trace_clock());
  s.tokens_per_s = double(cfg.global_batch_size * cfg.model.seq_length) / s.seconds;
  s.tflops = cfg.model.flops_per_iteration(cfg.global_batch_size) / s.seconds * 1e-12;
  return s;
}

}  // namespace trident::launch
