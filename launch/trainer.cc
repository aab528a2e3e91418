#include "launch/trainer.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "checkpoint/safetensors.h"
#include "framework/core/log.h"
#include "framework/dist/agreement.h"
#include "framework/parallel/gather.h"
#include "optim/grad_clip.h"

namespace trident::launch {
namespace {

// Test-only faults, "R:I" = rank R at iteration I:
// TRIDENT_TEST_FAIL_AT throws (the job must end with that rank's message,
// not hang); TRIDENT_TEST_NONFINITE_AT puts a NaN into one gradient after
// the data-parallel reduction (every rank must still skip the step).
int64_t test_fault_iteration(const char* variable, int rank) {
  const char* spec = std::getenv(variable);
  if (!spec) return -1;
  int r = -1;
  long long it = -1;
  if (std::sscanf(spec, "%d:%lld", &r, &it) != 2) return -1;
  return r == rank ? int64_t(it) : -1;
}

}  // namespace

Trainer::Trainer(TrainConfig cfg, const dist::World& world) : cfg_(std::move(cfg)), world_(world) {
  // 1. Checks that need no other rank. Any failure is reported by the
  //    agreement below, before the first collective.
  std::string error;
  try {
    cfg_.validate_and_resolve(world.size, world.local_size);
    schedule_ = cfg_.lr_schedule();
    corpus_ = data::TextCorpus::load(cfg_.data_path, size_t(cfg_.model.seq_length + 1));
    scaler_ = std::make_unique<optim::LossScaler>(cfg_.loss_scaler);
    backend_ = backend::make_backend(cfg_.resolved_device(), cfg_.threads);  // may refuse: no GPU
    cfg_.model.device = cfg_.resolved_device();
    if (world.rank == 0 && !cfg_.metrics_file.empty()) {
      // Checked, not created: nothing is written until every rank is known good.
      const std::filesystem::path path(cfg_.metrics_file);
      const std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
      TRIDENT_USAGE_CHECK(!std::filesystem::is_directory(path) && ::access(dir.c_str(), W_OK) == 0,
                          "cannot write --metrics-file '", cfg_.metrics_file,
                          "': check that its directory exists and is writable");
    }
  } catch (const UsageError& e) {
    error = e.what();
  }
  dist::agree_all_ranks_ok(error);  // throws on every rank if any failed

  // 2. Collective set-up.
  groups_ = std::make_unique<dist::ProcessGroups>(
      world, dist::Layout{cfg_.tensor_model_parallel_size, cfg_.pipeline_model_parallel_size, cfg_.data_parallel_size});
  if (world.rank == 0 && !cfg_.metrics_file.empty()) metrics_.open(cfg_.metrics_file, std::ios::trunc);
  sampler_ = std::make_unique<data::GlobalBatchSampler>(corpus_.bytes(), cfg_.model.seq_length, cfg_.seed);
  model_ = std::make_unique<gpt::GptModel>(cfg_.model, cfg_.seed, parallel::TpGroup{&groups_->tp()});
  buckets_ = std::make_unique<parallel::GradBuckets>(model_->params(), groups_->dp(), cfg_.ddp_bucket_size,
                                                     cfg_.overlap_grad_reduce);
  optimizer_ = std::make_unique<optim::AdamW>(model_->params(), cfg_.adam);
  fail_at_iteration_ = test_fault_iteration("TRIDENT_TEST_FAIL_AT", world.rank);
  nonfinite_at_iteration_ = test_fault_iteration("TRIDENT_TEST_NONFINITE_AT", world.rank);
  const dist::Layout& l = groups_->layout();
  spdlog::info("{}; loss scaling {}", cfg_.model.summary(),
               cfg_.loss_scaler.dynamic ? "dynamic"
                                        : (cfg_.fp16 ? "static " + std::to_string(scaler_->scale()) : "none"));
  spdlog::info("data: {} bytes from {} file(s) under {}", corpus_.size(), corpus_.files().size(), cfg_.data_path);
  spdlog::info("layout: {} ranks = tp {} x pp {} x dp {}; {} gradient bucket(s), overlap {}", world.size, l.tp, l.pp,
               l.dp, buckets_->num_buckets(), cfg_.overlap_grad_reduce ? "on" : "off");
  spdlog::info("batch: global {} = micro-batch {} x {} micro-batches x dp {}; {} iterations; backend {}",
               cfg_.global_batch_size, cfg_.micro_batch_size, cfg_.num_micro_batches(l.dp), l.dp, cfg_.train_iters,
               backend_->name());
}

IterationStats Trainer::step(int64_t iteration) {
  const auto start = std::chrono::steady_clock::now();
  TRIDENT_CHECK(iteration != fail_at_iteration_, "injected test fault (TRIDENT_TEST_FAIL_AT) at iteration ",
                iteration);
  const int dp = groups_->layout().dp, dp_rank = groups_->coord().dp;
  const int64_t mbs = cfg_.micro_batch_size, T = cfg_.model.seq_length, n_mb = cfg_.num_micro_batches(dp);
  // This DP rank's share of the global batch: Note [layout-independent sampling].
  const int64_t first_sample = dp_rank * (cfg_.global_batch_size / dp);
  const gpt::GradReadyHook ready = [this](Param& p) { buckets_->mark_ready(p); };
  const float loss_scale = float(scaler_->scale());
  model_->zero_grad();
  double loss = 0.0;
  for (int64_t mb = 0; mb < n_mb; ++mb) {
    Tensor tokens = Tensor::empty({mbs, T}, DType::i32), targets = Tensor::empty({mbs, T}, DType::i32);
    sampler_->fill(iteration, first_sample + mb * mbs, mbs, tokens, targets);
    if (cfg_.model.device != Device::cpu) {
      tokens = tokens.to(cfg_.model.device);
      targets = targets.to(cfg_.model.device);
    }
    gpt::GptActivations act;
    loss += model_->forward(*backend_, tokens, targets, act) / double(n_mb);
    // Scaled by 1/(micro-batches · dp): the DP sum of gradients is then the
    // global mean; and by the loss scale, undone below.
    model_->backward(*backend_, act, loss_scale / float(n_mb * dp), mb + 1 == n_mb ? &ready : nullptr);
  }
  buckets_->finish();
  const std::vector<Param*> params = model_->params();
  if (iteration == nonfinite_at_iteration_) params.front()->grad.set(0, std::numeric_limits<float>::quiet_NaN());
  // Found-inf: any non-finite main gradient on any rank (TP, PP and DP alike).
  int32_t local_bad = 0;
  for (const Param* p : params) local_bad |= !backend_->all_finite(p->grad);
  Tensor found = Tensor::empty({1}, DType::i32);
  found.data<int32_t>()[0] = local_bad;
  groups_->world().all_reduce(found, dist::ReduceOp::max);
  IterationStats s;
  s.iteration = iteration;
  s.loss_scale = loss_scale;
  s.skipped = found.data<int32_t>()[0] != 0;
  Tensor loss_t = Tensor::from_vector({float(loss)}, {1});
  groups_->dp().all_reduce(loss_t, dist::ReduceOp::sum);  // for the log only
  s.loss = double(loss_t.item(0)) / dp;
  s.lr = schedule_.at(iteration);
  if (s.skipped) {
    ++skipped_iterations_;
    s.grad_norm = std::numeric_limits<double>::quiet_NaN();
  } else {
    // Unscaled before clipping, in the same pass.
    s.grad_norm = optim::clip_grad_norm(*backend_, params, cfg_.clip_grad,
                                        {&groups_->model_parallel(), groups_->coord().tp}, loss_scale);
    optimizer_->step(*backend_, s.lr);
  }
  scaler_->update(s.skipped);
  backend_->synchronize();  // the time below covers the device's work too
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.tokens_per_s = double(cfg_.global_batch_size * T) / s.seconds;
  s.tflops = cfg_.model.flops_per_iteration(cfg_.global_batch_size) / s.seconds * 1e-12;
  return s;
}

IterationStats Trainer::train() {
  IterationStats s;
  for (int64_t it = 1; it <= cfg_.train_iters; ++it) {
    s = step(it);
    record(s);
  }
  if (!cfg_.export_safetensors.empty()) {
    checkpoint::TensorMap tensors;
    for (auto& [name, t] : full_parameters()) tensors.emplace(name, t);  // collective: every rank gathers
    if (world_.rank == 0) checkpoint::save_safetensors(cfg_.export_safetensors, tensors);
  }
  return s;
}

std::vector<std::pair<std::string, Tensor>> Trainer::full_parameters() {
  std::vector<std::pair<std::string, Tensor>> out;
  for (Param* p : model_->params()) {
    Tensor full = parallel::gather_tensor_parallel(*p, parallel::TpGroup{&groups_->tp()});
    if (p->name == "embedding.word_embeddings.weight") full = full.slice(0, cfg_.model.vocab_size).clone();
    out.emplace_back(p->name, full);
  }
  return out;
}

void Trainer::record(const IterationStats& s) {
  if (world_.rank != 0) return;
  if (metrics_.is_open()) {
    nlohmann::json line = {{"iteration", s.iteration},   {"loss", s.loss},
                           {"lr", s.lr},                 {"grad_norm", s.grad_norm},
                           {"tokens_per_s", s.tokens_per_s}, {"ms_per_iter", s.seconds * 1e3},
                           {"tflops", s.tflops},         {"consumed_samples", s.iteration * cfg_.global_batch_size},
                           {"loss_scale", s.loss_scale}, {"skipped", s.skipped},
                           {"skipped_iterations", skipped_iterations_}};
    if (s.skipped) line["grad_norm"] = nullptr;  // JSON has no NaN
    metrics_ << line.dump() << '\n';
    metrics_.flush();
  }
  if (s.skipped)
    spdlog::warn("iteration {}: non-finite gradient, step skipped (loss scale {:.0f}, {} skipped so far)", s.iteration,
                 s.loss_scale, skipped_iterations_);
  if (s.iteration % cfg_.log_interval == 0 || s.iteration == cfg_.train_iters) {
    spdlog::info("iteration {:>6}/{:<6} | consumed samples {:>8} | ms/iter {:8.1f} | lr {:.3E} | loss {:.4f} | "
                 "grad norm {:.3f} | loss scale {:.0f} | skipped {} | tokens/s {:8.0f} | TFLOP/s {:.3f}",
                 s.iteration, cfg_.train_iters, s.iteration * cfg_.global_batch_size, s.seconds * 1e3, s.lr, s.loss,
                 s.grad_norm, s.loss_scale, skipped_iterations_, s.tokens_per_s, s.tflops);
  }
}

}  // namespace trident::launch
