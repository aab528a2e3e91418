#include "launch/trainer.h"

#include <chrono>

#include "framework/core/log.h"
#include "framework/core/memory_category.h"
#include "framework/dist/agreement.h"
#include "launch/export.h"
#include "launch/fault_injection.h"

namespace trident::launch {

Trainer::Trainer(TrainConfig cfg, const dist::World& world)
    : started_(std::chrono::steady_clock::now()),
      parts_(set_up_training(std::move(cfg), world)),
      step_(parts_),
      checkpoint_(parts_, step_),
      reporter_(parts_, peak_tflops_per_rank(parts_)),
      control_(parts_, checkpoint_, reporter_) {
  state_.data_seed = parts_.cfg.seed;
  state_.sampler_batch = parts_.cfg.global_batch_size;
  if (!parts_.cfg.load.empty() || !parts_.cfg.load_hf.empty()) load();
  if (parts_.cfg.evaluates()) evaluator_ = std::make_unique<Evaluator>(parts_);
  trace_until_ = parts_.cfg.trace.empty() ? 0 : state_.iteration + parts_.cfg.trace_iterations;
  reporter_.open_metrics(state_.iteration);
  reporter_.start_up(step_);
  // What the memory model predicts is training's steady state: set-up's
  // transients (gradients moving into their buckets, a checkpoint's reads) are not part of it.
  reset_memory_peaks(parts_.cfg.model.device);
}

void Trainer::load() {
  const TrainConfig& cfg = parts_.cfg;
  const auto start = std::chrono::steady_clock::now();
  const bool hf = cfg.load.empty();  // --load-hf (set-up dropped it if --load holds a checkpoint)
  std::string error, dir;
  int64_t bytes = 0;
  try {
    if (hf) {
      bytes = checkpoint_.load_hf(cfg.load_hf);
    } else {
      dir = checkpoint::find_checkpoint(cfg.load, cfg.load_iteration);
      bytes = checkpoint_.load(dir, {!cfg.no_load_optim && !cfg.finetune, !cfg.no_load_rng && !cfg.finetune, cfg.finetune},
                               state_);
    }
  } catch (const std::exception& e) {  // HDF5 and JSON surprises too: one line, every rank stops
    error = e.what();
  }
  dist::agree_all_ranks_ok(error);
  checkpoint_.share_loaded_rows();  // after the agreement: a failed rank is never left out of a collective
  if (!cfg.finetune && !hf) control_.good_checkpoint(state_.iteration, dir, {.optimizer = !cfg.no_load_optim});
  Tensor total = Tensor::from_vector({float(bytes)}, {1});
  parts_.groups->world().all_reduce(total, dist::ReduceOp::sum);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (hf) {
    spdlog::info("--load-hf: loaded {}: {:.1f} MB in {:.3f} s; starting at iteration 1 with a fresh optimizer",
                 cfg.load_hf, total.item(0) / 1e6, seconds);
    return;
  }
  spdlog::info("checkpoint: loaded iteration {} from {}: {:.1f} MB in {:.3f} s ({:.0f} MB/s){}",
               state_.loaded_iteration, cfg.load, total.item(0) / 1e6, seconds, total.item(0) / 1e6 / seconds,
               cfg.finetune ? "; --finetune: weights only, starting at iteration 1"
                            : cfg.no_load_optim ? "; --no-load-optim: fresh optimizer state" : "");
  if (cfg.no_load_optim && !cfg.finetune)
    spdlog::warn("--no-load-optim: the LR schedule restarts with the optimizer (warm-up from iteration {}), as "
                 "Megatron's does; it ends {} iterations later", state_.iteration + 1, cfg.lr_decay_iters);
}

IterationStats Trainer::step(int64_t iteration) {
  static const int64_t fail_at = test_fail_iteration(parts_.world->rank);
  TRIDENT_CHECK(iteration != fail_at, "injected test fault (TRIDENT_TEST_FAIL_AT) at iteration ", iteration);
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count() / 60.0;
  const bool time_up = parts_.cfg.exit_duration_in_mins > 0.0 && minutes >= parts_.cfg.exit_duration_in_mins;
  return step_.run(iteration, state_, iteration <= trace_until_ ? &trace_ : nullptr, time_up);
}

double Trainer::evaluate() {
  TRIDENT_CHECK(evaluator_ != nullptr, "evaluation needs --eval-interval or --skip-train");
  const double loss = evaluator_->evaluate();
  reporter_.evaluation(state_.iteration, loss);
  return loss;
}

void Trainer::save() {
  const double start = trace_clock();
  const checkpoint::SaveResult r = checkpoint_.save(state_);
  control_.good_checkpoint(state_.iteration, r.dir);  // saves happen only while healthy
  if (!parts_.cfg.trace.empty()) trace_.span("checkpoint save", "checkpoint", start, trace_clock());
  spdlog::info("checkpoint: saved iteration {} to {}: {:.1f} MB in {:.3f} s ({:.0f} MB/s)", state_.iteration, r.dir,
               double(r.bytes) / 1e6, r.seconds, double(r.bytes) / 1e6 / r.seconds);
}

bool Trainer::save_if_due(const IterationStats& s, RunControl::Verdict verdict) {
  const TrainConfig& cfg = parts_.cfg;
  const int64_t it = s.iteration;
  const bool periodic = cfg.save_interval > 0 && it % cfg.save_interval == 0;
  if (cfg.save.empty() || !(periodic || it == cfg.train_iters || s.stop_requested())) return false;
  // A checkpoint of a diverging model would be `latest`: no save until the loss is healthy again.
  if (verdict != RunControl::Verdict::healthy) {
    spdlog::warn("not saving at iteration {}: the loss is not healthy", it);
    return false;
  }
  save();
  return true;
}

IterationStats Trainer::train() {
  const TrainConfig& cfg = parts_.cfg;
  IterationStats s;
  if (cfg.skip_train) {
    evaluate();
    finish();
    return s;
  }
  if (state_.iteration >= cfg.train_iters)
    spdlog::warn("the checkpoint is at iteration {}, --train-iters is {}: nothing to train", state_.iteration,
                 cfg.train_iters);
  const int64_t first = state_.iteration + 1;
  int64_t evaluated = -1;  // the iteration last evaluated
  while (state_.iteration < cfg.train_iters) {
    const int64_t it = state_.iteration + 1;
    s = step(it);
    if (it == first) {  // before the iteration's record, which carries the peaks
      reporter_.memory("after the first iteration");
      reporter_.memory_by_category();
    }
    reporter_.iteration(s, state_);
    const RunControl::Verdict verdict = control_.after_iteration(s, step_.scaler().scale() <= cfg.loss_scaler.min_scale, state_);
    if (verdict == RunControl::Verdict::rolled_back) continue;  // state_ is the checkpoint's: on from there
    state_.iteration = it;
    // Not when stopping: a preemption's grace period is for the save.
    if (cfg.eval_interval > 0 && it % cfg.eval_interval == 0 && !s.stop_requested()) evaluate(), evaluated = it;
    const bool saved = save_if_due(s, verdict);
    if (s.stop_requested()) {
      spdlog::warn("{}: stopping after iteration {}{}", stop_reason_text(s.stop), it,
                   saved ? ", checkpoint saved" : " (nothing saved)");
      finish();
      return s;
    }
  }
  if (cfg.eval_interval > 0 && evaluated != state_.iteration) evaluate();  // the final evaluation
  finish();
  return s;
}

void Trainer::finish() {
  const TrainConfig& cfg = parts_.cfg;
  if (!cfg.trace.empty()) {
    const dist::Coord& c = parts_.groups->coord();
    trace_.write(cfg.trace,
                 "rank " + std::to_string(parts_.world->rank) + " (tp " + std::to_string(c.tp) + ", pp " +
                     std::to_string(c.pp) + ", dp " + std::to_string(c.dp) + ")",
                 parts_.groups->world());
    if (parts_.world->rank == 0) spdlog::info("trace: {} (open in https://ui.perfetto.dev or chrome://tracing)", cfg.trace);
  }
  if (!cfg.export_safetensors.empty()) export_safetensors(parts_, cfg.export_safetensors);
  if (!cfg.export_hf.empty()) export_hf(parts_, cfg.export_hf);
}

}  // namespace trident::launch
