#include "launch/run_control.h"

#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "framework/core/log.h"
#include "framework/dist/agreement.h"

namespace trident::launch {

void RunControl::good_checkpoint(int64_t iteration, const std::string& dir, TrainingCheckpoint::Restore restore) {
  restore.data_position = false;  // a rollback keeps going forward in the data
  restore.restart_iterations = false;
  good_.push_back({iteration, dir, restore});
}

RunControl::Action RunControl::decide(const IterationStats& s, bool loss_scale_at_floor, int64_t& target) {
  Tensor decision = Tensor::zeros({2}, DType::i32);  // (action, target iteration)
  if (parts_.world->rank == 0) {
    const IterationHealth health{s.iteration, s.loss, s.grad_norm, s.skipped, parts_.cfg.fp16, loss_scale_at_floor};
    Action action = Action::none;
    switch (guard_.observe(health)) {
      case DivergenceGuard::Verdict::healthy: break;
      case DivergenceGuard::Verdict::developing: action = Action::developing; break;
      case DivergenceGuard::Verdict::diverged: {
        action = Action::no_target;
        for (auto it = good_.rbegin(); it != good_.rend(); ++it)
          if (it->iteration < guard_.first_anomalous_iteration() - 1 &&
              std::filesystem::exists(std::filesystem::path(it->dir) / "COMMITTED")) {
            action = Action::roll_back;
            decision.data<int32_t>()[1] = int32_t(it->iteration);
            break;
          }
        if (action == Action::roll_back && guard_.exhausted(s.iteration)) action = Action::give_up;
        break;
      }
    }
    decision.data<int32_t>()[0] = int32_t(action);
  }
  parts_.groups->world().broadcast(decision, 0);
  target = decision.data<int32_t>()[1];
  return Action(decision.data<int32_t>()[0]);
}

void RunControl::give_up(const IterationStats& s) {
  const TrainConfig& cfg = parts_.cfg;
  const std::string message = "divergence guard: " + guard_.reason() + "; " + std::to_string(guard_.rollbacks()) +
                              " rollbacks within --rollback-window " + std::to_string(cfg.guard.rollback_window) +
                              " iterations already (--max-rollbacks " + std::to_string(cfg.guard.max_rollbacks) +
                              "): giving up. Every committed checkpoint under --save is intact; lower the learning "
                              "rate or skip more data (--rollback-skip-batches) and resume with --load";
  reporter_.event({{"event", "give_up"}, {"iteration", s.iteration}, {"reason", guard_.reason()}});
  throw DivergenceGaveUp(parts_.world->rank == 0 ? message : "");
}

RunControl::Verdict RunControl::after_iteration(const IterationStats& s, bool loss_scale_at_floor, RunState& state) {
  int64_t target = -1;
  switch (decide(s, loss_scale_at_floor, target)) {
    case Action::none: return Verdict::healthy;
    case Action::developing: return Verdict::developing;
    case Action::give_up: give_up(s); break;
    case Action::roll_back: roll_back(s.iteration, target, state); return Verdict::rolled_back;
    case Action::no_target:
      if (parts_.world->rank == 0) {
        spdlog::warn("divergence guard: {}; no checkpoint from before iteration {} to roll back to (give --save and "
                     "--save-interval): carrying on", guard_.reason(), guard_.first_anomalous_iteration());
        reporter_.event({{"event", "divergence"}, {"iteration", s.iteration}, {"reason", guard_.reason()},
                         {"action", "none: no checkpoint to roll back to"}});
        guard_.reset_watch();
      }
      return Verdict::no_target;
  }
  return Verdict::no_target;  // not reached: give_up throws
}

void RunControl::roll_back(int64_t detected, int64_t target, RunState& state) {
  GoodCheckpoint good{};
  for (const GoodCheckpoint& g : good_)
    if (g.iteration == target) good = g;
  // The samples up to the diverging batch's end, and --rollback-skip-batches batches after it, are never trained on.
  const int64_t B = parts_.cfg.global_batch_size;
  const int64_t resume_sample = state.consumed_samples + parts_.cfg.rollback_skip_batches * B;
  const double lr_scale = state.lr_scale * parts_.cfg.rollback_lr_scale;  // compounds over rollbacks
  std::string error;
  int64_t bytes = 0;
  try {
    // As it was loaded or saved: a checkpoint loaded with --no-load-optim gives fresh moments,
    // step count and loss scale again (TrainingCheckpoint::load resets them).
    bytes = checkpoint_.load(good.dir, good.restore, state);
  } catch (const std::exception& e) {
    error = "divergence guard: rolling back to " + good.dir + " failed: " + e.what();
  }
  dist::agree_all_ranks_ok(error);
  checkpoint_.share_loaded_rows();  // after the agreement: a failed rank is never left out of a collective
  const int64_t skipped = (resume_sample - state.consumed_samples) / B;  // from the checkpoint's position
  state.consumed_samples = resume_sample;
  state.lr_scale = lr_scale;
  // Checkpoints after the target hold the diverging model: never targets again, never `latest`.
  std::erase_if(good_, [&](const GoodCheckpoint& g) { return g.iteration > target; });
  if (parts_.world->rank != 0) return;
  try {
    for (const std::string& m : checkpoint::abandon_checkpoints_after(parts_.cfg.save, target))
      spdlog::warn("divergence guard: {} is from before the rollback: moved aside", m);
  } catch (const std::exception& e) {
    spdlog::warn("divergence guard: could not set checkpoints after iteration {} aside: {}", target, e.what());
  }
  guard_.rolled_back(detected, target);
  spdlog::warn("divergence guard: {}; rolled back to iteration {} ({}, {:.1f} MB), skipping {} data batches; "
               "learning rate x {:.3g} from now on; rollback {} of at most {}", guard_.reason(), target, good.dir,
               double(bytes) / 1e6, skipped, state.lr_scale, guard_.rollbacks(), parts_.cfg.guard.max_rollbacks);
  reporter_.event({{"event", "rollback"}, {"iteration", detected}, {"from_iteration", detected},
                   {"to_iteration", target}, {"reason", guard_.reason()}, {"batches_skipped", skipped},
                   {"next_data_batch", resume_sample / B + 1}, {"next_sample", resume_sample},
                   {"lr_scale", state.lr_scale}, {"checkpoint", good.dir}});
}

}  // namespace trident::launch
