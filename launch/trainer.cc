#include "launch/trainer.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "framework/core/log.h"
#include "optim/grad_clip.h"

namespace trident::launch {

Trainer::Trainer(TrainConfig cfg) : cfg_(std::move(cfg)) {
  cfg_.validate_and_resolve();
  schedule_ = cfg_.lr_schedule();
  corpus_ = data::TextCorpus::load(cfg_.data_path, size_t(cfg_.model.seq_length + 1));
  backend_ = backend::make_backend(cfg_.resolved_device(), cfg_.threads);  // may refuse: no GPU
  cfg_.model.device = cfg_.resolved_device();
  // Only once every input is known good is anything created on disk.
  if (!cfg_.metrics_file.empty()) {
    metrics_.open(cfg_.metrics_file, std::ios::trunc);
    TRIDENT_USAGE_CHECK(metrics_.good(), "cannot write --metrics-file '", cfg_.metrics_file,
                        "': check that its directory exists and is writable");
  }
  sampler_ = std::make_unique<data::GlobalBatchSampler>(corpus_.bytes(), cfg_.model.seq_length, cfg_.seed);
  model_ = std::make_unique<gpt::GptModel>(cfg_.model, cfg_.seed);
  optimizer_ = std::make_unique<optim::AdamW>(model_->params(), cfg_.adam);
  spdlog::info("{}", cfg_.model.summary());
  spdlog::info("data: {} bytes from {} file(s) under {}", corpus_.size(), corpus_.files().size(), cfg_.data_path);
  spdlog::info("batch: global {} = micro-batch {} x {} micro-batches; {} iterations; backend {}",
               cfg_.global_batch_size, cfg_.micro_batch_size, cfg_.num_micro_batches(), cfg_.train_iters,
               backend_->name());
}

IterationStats Trainer::step(int64_t iteration) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t mbs = cfg_.micro_batch_size, T = cfg_.model.seq_length, n_mb = cfg_.num_micro_batches();
  model_->zero_grad();
  double loss = 0.0;
  for (int64_t mb = 0; mb < n_mb; ++mb) {
    Tensor tokens = Tensor::empty({mbs, T}, DType::i32), targets = Tensor::empty({mbs, T}, DType::i32);
    sampler_->fill(iteration, mb * mbs, mbs, tokens, targets);
    if (cfg_.model.device != Device::cpu) {
      tokens = tokens.to(cfg_.model.device);
      targets = targets.to(cfg_.model.device);
    }
    gpt::GptActivations act;
    loss += model_->forward(*backend_, tokens, targets, act) / double(n_mb);
    model_->backward(*backend_, act, 1.f / float(n_mb));
  }
  IterationStats s;
  s.iteration = iteration;
  s.loss = loss;
  s.grad_norm = optim::clip_grad_norm(*backend_, model_->params(), cfg_.clip_grad);
  s.lr = schedule_.at(iteration);
  optimizer_->step(*backend_, s.lr);
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
  return s;
}

void Trainer::record(const IterationStats& s) {
  if (metrics_.is_open()) {
    const nlohmann::json line = {{"iteration", s.iteration},   {"loss", s.loss},
                                 {"lr", s.lr},                 {"grad_norm", s.grad_norm},
                                 {"tokens_per_s", s.tokens_per_s}, {"ms_per_iter", s.seconds * 1e3},
                                 {"tflops", s.tflops},         {"consumed_samples", s.iteration * cfg_.global_batch_size}};
    metrics_ << line.dump() << '\n';
    metrics_.flush();
  }
  if (s.iteration % cfg_.log_interval == 0 || s.iteration == cfg_.train_iters) {
    spdlog::info("iteration {:>6}/{:<6} | consumed samples {:>8} | ms/iter {:8.1f} | lr {:.3E} | loss {:.4f} | "
                 "grad norm {:.3f} | tokens/s {:8.0f} | TFLOP/s {:.3f}",
                 s.iteration, cfg_.train_iters, s.iteration * cfg_.global_batch_size, s.seconds * 1e3, s.lr, s.loss,
                 s.grad_norm, s.tokens_per_s, s.tflops);
  }
}

}  // namespace trident::launch
