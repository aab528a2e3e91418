// Trainer <-> divergence guard: the verdict of each iteration (world rank
// 0 decides, every rank acts), and the in-process rollback.
//
// Rollback target: the newest checkpoint this job saved (or loaded) from
// before the anomaly. The loss of iteration a is computed with the weights
// of step a − 1, so when a is the first anomalous iteration the checkpoint
// of a − 1 already holds the step that did the damage (measured: a 1000x
// learning-rate step at 40 shows first in the loss of 41); the target is
// the newest checkpoint of an iteration ≤ a − 2. train() also saves nothing
// while an anomaly is developing. A NaN at iteration 30 with saves every
// 10 therefore goes back to 20: the save due at 30 is skipped, and 29 is
// the newest iteration a checkpoint could have.
#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "framework/core/log.h"
#include "framework/dist/agreement.h"
#include "launch/trainer.h"

namespace trident::launch {

Trainer::GuardAction Trainer::guard_action(const IterationStats& s, int64_t& target) {
  Tensor decision = Tensor::zeros({2}, DType::i32);  // (action, target iteration)
  if (world_.rank == 0) {
    const IterationHealth health{s.iteration, s.loss, s.grad_norm, s.skipped, cfg_.fp16,
                                 scaler_->scale() <= cfg_.loss_scaler.min_scale};
    GuardAction action = GuardAction::none;
    switch (guard_.observe(health)) {
      case DivergenceGuard::Verdict::healthy: break;
      case DivergenceGuard::Verdict::developing: action = GuardAction::developing; break;
      case DivergenceGuard::Verdict::diverged: {
        action = GuardAction::no_target;
        for (auto it = good_checkpoints_.rbegin(); it != good_checkpoints_.rend(); ++it)
          if (it->iteration < guard_.first_anomalous_iteration() - 1 &&
              std::filesystem::exists(std::filesystem::path(it->dir) / "COMMITTED")) {
            action = GuardAction::roll_back;
            decision.data<int32_t>()[1] = int32_t(it->iteration);
            break;
          }
        if (action == GuardAction::roll_back && guard_.exhausted(s.iteration)) action = GuardAction::give_up;
        break;
      }
    }
    decision.data<int32_t>()[0] = int32_t(action);
  }
  groups_->world().broadcast(decision, 0);
  const auto action = GuardAction(decision.data<int32_t>()[0]);
  target = decision.data<int32_t>()[1];
  if (action == GuardAction::give_up) {
    const std::string message = "divergence guard: " + guard_.reason() + "; " + std::to_string(guard_.rollbacks()) +
                                " rollbacks within --rollback-window " + std::to_string(cfg_.guard.rollback_window) +
                                " iterations already (--max-rollbacks " + std::to_string(cfg_.guard.max_rollbacks) +
                                "): giving up. Every committed checkpoint under --save is intact; lower the learning "
                                "rate or skip more data (--rollback-skip-batches) and resume with --load";
    record_event({{"event", "give_up"}, {"iteration", s.iteration}, {"reason", guard_.reason()}});
    throw DivergenceGaveUp(world_.rank == 0 ? message : "");
  }
  if (action == GuardAction::no_target && world_.rank == 0) {
    spdlog::warn("divergence guard: {}; no checkpoint from before iteration {} to roll back to (give --save and "
                 "--save-interval): carrying on", guard_.reason(), guard_.first_anomalous_iteration());
    record_event({{"event", "divergence"}, {"iteration", s.iteration}, {"reason", guard_.reason()},
                  {"action", "none: no checkpoint to roll back to"}});
    guard_.reset_watch();
  }
  return action;
}

int64_t Trainer::roll_back(int64_t detected, int64_t target) {
  GoodCheckpoint good{};
  for (const GoodCheckpoint& g : good_checkpoints_)
    if (g.iteration == target) good = g;
  // The data batch that diverged, and the --rollback-skip-batches after it, are never trained on.
  const int64_t resume_batch = detected + data_offset_ + 1 + cfg_.rollback_skip_batches;
  const double lr_scale = lr_scale_ * cfg_.rollback_lr_scale;  // compounds over rollbacks
  std::string error;
  int64_t bytes = 0;
  try {
    // As it was loaded or saved: a checkpoint loaded with --no-load-optim gives fresh moments again.
    bytes = load_checkpoint(good.dir, good.optimizer, /*data_position=*/false, /*restart_iterations=*/false);
  } catch (const std::exception& e) {
    error = "divergence guard: rolling back to " + good.dir + " failed: " + e.what();
  }
  dist::agree_all_ranks_ok(error);
  const int64_t skipped = resume_batch - (target + 1 + data_offset_);
  data_offset_ = resume_batch - (target + 1);
  lr_scale_ = lr_scale;
  const std::string dir = good.dir;
  // Checkpoints after the target hold the diverging model: never targets again, never `latest`.
  std::erase_if(good_checkpoints_, [&](const GoodCheckpoint& g) { return g.iteration > target; });
  if (world_.rank == 0) {
    try {
      const std::vector<std::string> moved = checkpoint::abandon_checkpoints_after(cfg_.save, target);
      for (const std::string& m : moved) spdlog::warn("divergence guard: {} is from before the rollback: moved aside", m);
    } catch (const std::exception& e) {
      spdlog::warn("divergence guard: could not set checkpoints after iteration {} aside: {}", target, e.what());
    }
    guard_.rolled_back(detected, target);
    spdlog::warn("divergence guard: {}; rolled back to iteration {} ({}, {:.1f} MB), skipping {} data batches; "
                 "learning rate x {:.3g} from now on; rollback {} of at most {}", guard_.reason(), target, dir,
                 double(bytes) / 1e6, skipped, lr_scale_, guard_.rollbacks(), cfg_.guard.max_rollbacks);
    record_event({{"event", "rollback"}, {"iteration", detected}, {"from_iteration", detected},
                  {"to_iteration", target}, {"reason", guard_.reason()}, {"batches_skipped", skipped},
                  {"next_data_batch", resume_batch}, {"lr_scale", lr_scale_}, {"checkpoint", dir}});
  }
  return target;
}

void Trainer::record_event(const nlohmann::json& event) {
  if (world_.rank != 0 || !metrics_.is_open()) return;
  metrics_ << event.dump() << '\n';
  metrics_.flush();
}

}  // namespace trident::launch
