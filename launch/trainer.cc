#include "launch/trainer.h"

#include <sys/resource.h>

#include "framework/backend/gemm_peak.h"
#include "framework/core/host_allocator.h"
#include "launch/stop_signal.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <spdlog/fmt/ranges.h>

#include "checkpoint/safetensors.h"
#include "framework/core/log.h"
#include "framework/dist/agreement.h"
#include "framework/parallel/gather.h"
#include "framework/pipeline/simulator.h"
#include "optim/grad_clip.h"

namespace trident::launch {
namespace {

// Test-only fault, "R:I" = rank R at iteration I: TRIDENT_TEST_FAIL_AT
// throws (the job must end with that rank's message, not hang). Faults the
// divergence guard handles are product flags: --inject-fault.
int64_t test_fault_iteration(const char* variable, int rank) {
  const char* spec = std::getenv(variable);
  if (!spec) return -1;
  int r = -1;
  long long it = -1;
  if (std::sscanf(spec, "%d:%lld", &r, &it) != 2) return -1;
  return r == rank ? int64_t(it) : -1;
}

// The trainer's side of the pipeline contract for one iteration: each
// micro-batch's tokens and targets from the sampler (the first and last
// stage draw the same ones), forward and backward through this rank's
// model chunks, the loss summed on the last stage.
class TrainingStage final : public pipeline::PipelineStage {
 public:
  struct MicroBatch final : Activations {
    gpt::GptActivations act;
  };
  TrainingStage(gpt::GptModel& model, backend::Backend& be, const data::GlobalBatchSampler& sampler,
                int64_t iteration, int64_t first_sample, int64_t micro_batch_size, int64_t micro_batches,
                float loss_grad, const gpt::GradReadyHook& ready)
      : model_(model), be_(be), sampler_(sampler), iteration_(iteration), first_sample_(first_sample),
        mbs_(micro_batch_size), n_mb_(micro_batches), loss_grad_(loss_grad), ready_(ready) {}

  std::unique_ptr<Activations> forward(int mb, int chunk, const Tensor& input, Tensor& output) override {
    auto m = std::make_unique<MicroBatch>();
    Tensor in = input, targets;
    if (model_.is_first_stage(chunk) || model_.is_last_stage(chunk)) {
      const int64_t T = model_.config().seq_length;
      Tensor tokens = Tensor::empty({mbs_, T}, DType::i32);
      targets = Tensor::empty({mbs_, T}, DType::i32);
      sampler_.fill(iteration_, first_sample_ + mb * mbs_, mbs_, tokens, targets);
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

  void backward(int mb, int chunk, Activations& act, const Tensor& grad_output, Tensor& grad_input) override {
    // Each chunk's backwards run in micro-batch order: the last one finishes its gradients.
    model_.backward(be_, chunk, static_cast<MicroBatch&>(act).act, grad_output, loss_grad_, grad_input,
                    mb + 1 == n_mb_ ? &ready_ : nullptr);
  }

  Tensor boundary_buffer() override {
    const gpt::GptConfig& c = model_.config();
    return Tensor::empty({mbs_, c.seq_length, c.hidden_size}, c.dtype, c.device);
  }

  double loss_sum = 0.0;  // of the micro-batch mean losses, on the last stage

 private:
  gpt::GptModel& model_;
  backend::Backend& be_;
  const data::GlobalBatchSampler& sampler_;
  int64_t iteration_, first_sample_, mbs_, n_mb_;
  float loss_grad_;
  const gpt::GradReadyHook& ready_;
};

}  // namespace

Trainer::Trainer(TrainConfig cfg, const dist::World& world)
    : cfg_(std::move(cfg)), world_(world), guard_(cfg_.guard), faults_({}) {
  // 1. Checks that need no other rank. Any failure is reported by the
  //    agreement below, before the first collective.
  std::string error;
  try {
    cfg_.validate_and_resolve(world.size, world.local_size);
    schedule_ = cfg_.lr_schedule();
    faults_ = FaultInjector(cfg_.inject_faults);
    corpus_ = data::TextCorpus::load(cfg_.data_path, size_t(cfg_.model.seq_length + 1), cfg_.model.vocab_size,
                                     cfg_.split);
    scaler_ = std::make_unique<optim::LossScaler>(cfg_.loss_scaler);
    // Local rank r takes visible GPU r mod n: ranks beyond the GPUs share them (staged MPI).
    const int gpus = cfg_.resolved_device() == Device::cuda ? backend::cuda_device_count() : 0;
    backend_ = backend::make_backend(cfg_.resolved_device(), cfg_.threads,
                                     gpus > 0 ? world.local_rank % gpus : 0);  // may refuse: no GPU
    cfg_.model.device = cfg_.resolved_device();
    if (world.rank == 0 && !cfg_.metrics_file.empty()) {
      // Checked, not created: nothing is written until every rank is known good.
      const std::filesystem::path path(cfg_.metrics_file);
      const std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
      TRIDENT_USAGE_CHECK(!std::filesystem::is_directory(path) && ::access(dir.c_str(), W_OK) == 0,
                          "cannot write --metrics-file '", cfg_.metrics_file,
                          "': check that its directory exists and is writable");
    }
    if (world.rank == 0 && !cfg_.save.empty()) {
      // Made now (an empty directory is harmless), so a bad path fails before any training.
      std::error_code ec;
      std::filesystem::create_directories(cfg_.save, ec);
      TRIDENT_USAGE_CHECK(!ec && std::filesystem::is_directory(cfg_.save) && ::access(cfg_.save.c_str(), W_OK) == 0,
                          "cannot write --save '", cfg_.save, "'", ec ? " (" + ec.message() + ")" : std::string(),
                          ": give a writable directory");
    }
  } catch (const UsageError& e) {
    error = e.what();
  }
  dist::agree_all_ranks_ok(error);  // throws on every rank if any failed

  // 2. Collective set-up.
  groups_ = std::make_unique<dist::ProcessGroups>(
      world, dist::Layout{cfg_.tensor_model_parallel_size, cfg_.pipeline_model_parallel_size, cfg_.data_parallel_size},
      cfg_.comm == "nccl" ? dist::nccl_comm_factory(backend_->native_stream()) : dist::CommFactory{});
  sampler_ = std::make_unique<data::GlobalBatchSampler>(corpus_.train_tokens(), cfg_.model.seq_length, cfg_.seed);
  model_ = std::make_unique<gpt::GptModel>(cfg_.model, cfg_.seed, parallel::TpGroup{&groups_->tp()},
                                           cfg_.pipeline_stages(), groups_->coord().pp);
  const pipeline::ScheduleShape shape = cfg_.schedule_shape(groups_->layout().dp);
  pipeline_schedule_ = pipeline::make_schedule(cfg_.schedule_kind(), shape);
  executor_ = std::make_unique<pipeline::Executor>(pipeline_schedule_[size_t(groups_->coord().pp)], shape, groups_->pp());
  buckets_ = std::make_unique<parallel::GradBuckets>(model_->params(), groups_->dp(), cfg_.ddp_bucket_size,
                                                     cfg_.overlap_grad_reduce);
  optimizer_ = std::make_unique<optim::AdamW>(model_->params(), cfg_.adam);
  // 3. The checkpoint, if asked for: any rank's failure stops every rank before anything is written.
  std::string load_error;
  const auto load_start = std::chrono::steady_clock::now();
  int64_t load_bytes = 0;
  if (!cfg_.load.empty()) {
    try {
      load_bytes = load();
    } catch (const std::exception& e) {  // HDF5 and JSON surprises too: one line, every rank stops
      load_error = e.what();
    }
  }
  dist::agree_all_ranks_ok(load_error);
  if (!cfg_.load.empty()) {
    Tensor total = Tensor::from_vector({float(load_bytes)}, {1});
    groups_->world().all_reduce(total, dist::ReduceOp::sum);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    spdlog::info("checkpoint: loaded iteration {} from {}: {:.1f} MB in {:.3f} s ({:.0f} MB/s){}", loaded_iteration_,
                 cfg_.load, total.item(0) / 1e6, seconds, total.item(0) / 1e6 / seconds,
                 cfg_.finetune ? "; --finetune: weights only, starting at iteration 1"
                               : cfg_.no_load_optim ? "; --no-load-optim: fresh optimizer state" : "");
  }
  // A resumed run continues the metrics of the run it resumes.
  // The peak behind the MFU: given, or this rank's GEMM peak measured now (all ranks at once, so
  // ranks sharing cores measure their share).
  peak_tflops_ = cfg_.peak_tflops > 0.0
                     ? cfg_.peak_tflops
                     : backend::measure_gemm_peak_gflops(*backend_, cfg_.model.device == Device::cpu ? 512 : 8192,
                                                         cfg_.model.dtype) * 1e-3;
  if (world.rank == 0 && !cfg_.metrics_file.empty())
    metrics_.open(cfg_.metrics_file, start_iteration_ > 0 ? std::ios::app : std::ios::trunc);
  fail_at_iteration_ = test_fault_iteration("TRIDENT_TEST_FAIL_AT", world.rank);
  const dist::Layout& l = groups_->layout();
  spdlog::info("{}; loss scaling {}", cfg_.model.summary(),
               cfg_.loss_scaler.dynamic ? "dynamic"
                                        : (cfg_.fp16 ? "static " + std::to_string(scaler_->scale()) : "none"));
  spdlog::info("config: {}", cfg_.to_json().dump());
  spdlog::info("peak per rank for MFU: {:.3f} TFLOP/s ({})", peak_tflops_,
               cfg_.peak_tflops > 0.0 ? "--peak-tflops" : "measured GEMM peak in " + std::string(dtype_name(cfg_.model.dtype)));
  log_memory("at start");
  spdlog::info("data: {} {} from {} file(s) under {}; {} for training (--split {})", corpus_.size(),
               corpus_.indexed() ? "tokens" : "bytes", corpus_.files().size(), cfg_.data_path,
               corpus_.train_tokens().size, cfg_.split);
  spdlog::info("layout: {} ranks = tp {} x pp {} x dp {}; {} gradient bucket(s), overlap {}", world.size, l.tp, l.pp,
               l.dp, buckets_->num_buckets(), cfg_.overlap_grad_reduce ? "on" : "off");
  spdlog::info("batch: global {} = micro-batch {} x {} micro-batches x dp {}; {} iterations; backend {}",
               cfg_.global_batch_size, cfg_.micro_batch_size, cfg_.num_micro_batches(l.dp), l.dp, cfg_.train_iters,
               backend_->name());
  // How the backend computes (on the CPU: which kernels, and whether 16-bit GEMMs are widened and why).
  if (const std::string details = backend_->details(); !details.empty()) spdlog::info("backend: {}", details);
  if (l.pp > 1) {
    const pipeline::Simulation sim = pipeline::simulate(pipeline_schedule_, shape, {1.0 / shape.chunks, 2.0 / shape.chunks, 0});
    spdlog::info("pipeline: {} schedule, {} stages x {} chunk(s), layers per stage {}; simulated bubble {:.1f}% "
                 "(backward = 2 x forward), at most {} activation sets on pipeline rank 0; recompute {}",
                 cfg_.pipeline_schedule, l.pp, shape.chunks, fmt::join(cfg_.pipeline_stages().layers, ","),
                 100.0 * sim.bubble_fraction(), sim.peak_live[0],
                 cfg_.recompute_granularity.empty() ? "none" : cfg_.recompute_granularity);
  }
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
  // The loss gradient is scaled by 1/(micro-batches · dp), so the DP sum of
  // gradients is the global mean; and by the loss scale, undone below.
  // The data batch: rollbacks skip ahead in the data, never back.
  TrainingStage stage(*model_, *backend_, *sampler_, iteration + data_offset_, first_sample, mbs, n_mb,
                      loss_scale / float(n_mb * dp), ready);
  {
    // Nothing writes a parameter until the optimizer below: Note [fixed weights].
    const backend::FixedWeights fixed(*backend_, model_->params());
    executor_->run(stage);
  }
  const double reduce_start = trace_clock();
  buckets_->finish();
  if (tracing(iteration)) {
    for (const pipeline::TimedAction& t : executor_->timings()) {
      const pipeline::Action& a = t.action;
      trace_.span(std::string(pipeline::action_kind_name(a.kind)) + " mb " + std::to_string(a.micro_batch) +
                      (cfg_.num_virtual_stages > 1 ? " chunk " + std::to_string(a.chunk) : std::string()),
                  a.is_compute()                       ? pipeline::action_kind_name(a.kind)
                  : a.kind == pipeline::ActionKind::send_activation || a.kind == pipeline::ActionKind::send_grad
                      ? "pipeline send"
                      : "pipeline wait",
                  t.start, t.end);
    }
    trace_.span("data-parallel all-reduce (not overlapped)", "all-reduce", reduce_start, trace_clock());
  }
  // The tied token table: the embedding's and the output layer's halves of its gradient, summed on both stages.
  if (groups_->layout().pp > 1 && groups_->embedding()) {
    Param* table = model_->output_word_copy() ? model_->output_word_copy() : model_->input_word_embeddings();
    groups_->embedding()->all_reduce(table->grad, dist::ReduceOp::sum);
  }
  const std::vector<Param*> params = model_->params();
  // --inject-fault nan@I:R — after the DP reduction, so only rank R sees it.
  if (faults_.fires(InjectedFault::Kind::nan, iteration, world_.rank))
    params.front()->grad.set(0, std::numeric_limits<float>::quiet_NaN());
  // Found-inf: any non-finite main gradient on any rank (TP, PP and DP alike).
  // Σg² of every grad, once: for the norm below, and non-finite exactly when some element is.
  std::vector<const Tensor*> grads;
  for (const Param* p : params) grads.push_back(&p->grad);
  const std::vector<double> grad_sums = backend_->sum_squares_each(grads);
  const int32_t local_bad = std::all_of(grad_sums.begin(), grad_sums.end(), [](double v) { return std::isfinite(v); })
                                ? 0
                                : 1;
  // With it, whether a stop signal reached any rank: every rank then stops at the same iteration.
  Tensor found = Tensor::empty({2}, DType::i32);
  found.data<int32_t>()[0] = local_bad;
  found.data<int32_t>()[1] = stop_signal_received() != 0;
  groups_->world().all_reduce(found, dist::ReduceOp::max);
  IterationStats s;
  s.iteration = iteration;
  s.loss_scale = loss_scale;
  s.skipped = found.data<int32_t>()[0] != 0;
  s.stop_requested = found.data<int32_t>()[1] != 0;
  // For the log only: the last stage's loss, to every stage, summed over DP.
  Tensor loss_t = Tensor::from_vector({float(stage.loss_sum / double(n_mb))}, {1});
  if (groups_->layout().pp > 1) groups_->pp().broadcast(loss_t, groups_->layout().pp - 1);
  groups_->dp().all_reduce(loss_t, dist::ReduceOp::sum);
  s.loss = double(loss_t.item(0)) / dp;
  s.data_batch = iteration + data_offset_;
  s.lr = float(schedule_.at(iteration) * lr_scale_);
  // --inject-fault spike@I: one step at 1000x the learning rate (every rank alike).
  if (faults_.fires(InjectedFault::Kind::spike, iteration, world_.rank)) s.lr *= 1000.f;
  if (s.skipped) {
    ++skipped_iterations_;
    s.grad_norm = std::numeric_limits<double>::quiet_NaN();
  } else {
    const double optimizer_start = trace_clock();
    // Unscaling and clipping are one coefficient, applied by AdamW as it reads the grads.
    const optim::GradClip clip = optim::grad_clip_coefficient(
        params, grad_sums, cfg_.clip_grad, {&groups_->model_parallel(), groups_->coord().tp}, loss_scale);
    s.grad_norm = clip.norm;
    optimizer_->step(*backend_, s.lr, clip.coeff);
    if (tracing(iteration)) trace_.span("clip + AdamW", "optimizer", optimizer_start, trace_clock());
  }
  scaler_->update(s.skipped);
  backend_->synchronize();  // the time below covers the device's work too
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (tracing(iteration)) {
    const double end = trace_clock();
    trace_.span("iteration " + std::to_string(iteration), "iteration", end - s.seconds, end);
  }
  s.tokens_per_s = double(cfg_.global_batch_size * T) / s.seconds;
  s.tflops = cfg_.model.flops_per_iteration(cfg_.global_batch_size) / s.seconds * 1e-12;
  return s;
}

IterationStats Trainer::train() {
  IterationStats s;
  if (start_iteration_ >= cfg_.train_iters)
    spdlog::warn("the checkpoint is at iteration {}, --train-iters is {}: nothing to train", start_iteration_,
                 cfg_.train_iters);
  for (int64_t it = start_iteration_ + 1; it <= cfg_.train_iters; ++it) {
    s = step(it);
    record(s);
    if (it == start_iteration_ + 1) log_memory("after the first iteration");
    int64_t target = -1;
    const GuardAction action = guard_action(s, target);
    if (action == GuardAction::roll_back) {
      it = roll_back(it, target);  // the loop goes on after the checkpoint's iteration
      continue;
    }
    const bool periodic = cfg_.save_interval > 0 && it % cfg_.save_interval == 0;
    bool saved = false;
    if (!cfg_.save.empty() && (periodic || it == cfg_.train_iters || s.stop_requested)) {
      // A checkpoint of a diverging model would be `latest`: no save until the loss is healthy again.
      if (action != GuardAction::none) spdlog::warn("not saving at iteration {}: the loss is not healthy", it);
      else saved = (save(it), true);
    }
    if (s.stop_requested) {
      spdlog::warn("stop signal received: stopping after iteration {}{}", it,
                   saved ? ", checkpoint saved" : " (nothing saved)");
      break;
    }
  }
  if (!cfg_.trace.empty()) {
    const dist::Coord& c = groups_->coord();
    trace_.write(cfg_.trace,
                 "rank " + std::to_string(world_.rank) + " (tp " + std::to_string(c.tp) + ", pp " + std::to_string(c.pp) +
                     ", dp " + std::to_string(c.dp) + ")",
                 groups_->world());
    if (world_.rank == 0) spdlog::info("trace: {} (open in https://ui.perfetto.dev or chrome://tracing)", cfg_.trace);
  }
  if (!cfg_.export_safetensors.empty()) {
    checkpoint::TensorMap tensors;
    for (auto& [name, t] : full_parameters()) tensors.emplace(name, t);  // collective: every rank gathers
    if (world_.rank == 0) checkpoint::save_safetensors(cfg_.export_safetensors, tensors);
  }
  return s;
}

std::vector<std::pair<std::string, Tensor>> Trainer::full_parameters() {
  // This rank's parameters, TP shards gathered.
  std::map<std::string, Tensor> mine;
  for (Param* p : model_->params())
    if (!p->tied_copy) mine[p->name] = parallel::gather_tensor_parallel(*p, parallel::TpGroup{&groups_->tp()});
  // Every parameter from the pipeline rank that owns it.
  const gpt::PipelineStages stages = cfg_.pipeline_stages();
  std::vector<std::pair<std::string, Tensor>> out;
  for (const std::string& name : gpt::parameter_names(cfg_.model)) {
    const int owner = gpt::pipeline_rank_of_parameter(name, stages);
    Tensor full;
    if (stages.pp == 1) {
      full = mine.at(name);
    } else {
      // Shape and dtype first (rank, d0, d1, dtype), then the values.
      Tensor header = Tensor::zeros({4}, DType::i32);
      if (owner == groups_->coord().pp) {
        full = mine.at(name);
        header.data<int32_t>()[0] = int32_t(full.dim());
        for (int64_t d = 0; d < full.dim(); ++d) header.data<int32_t>()[1 + d] = int32_t(full.size(d));
        header.data<int32_t>()[3] = int32_t(full.dtype());
      }
      groups_->pp().broadcast(header, owner);
      const int32_t* h = header.data<int32_t>();
      if (owner != groups_->coord().pp)
        full = Tensor::empty(h[0] == 1 ? Shape{h[1]} : Shape{h[1], h[2]}, DType(h[3]));
      groups_->pp().broadcast(full, owner);
    }
    if (name == "embedding.word_embeddings.weight") full = full.slice(0, cfg_.model.vocab_size).clone();
    out.emplace_back(name, full);
  }
  return out;
}

void Trainer::log_memory(const char* when) {
  // Host tensors (the caching allocator's high-water mark) and the process's peak resident size.
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  Tensor mb = Tensor::from_vector({float(host_allocator().stats().peak_bytes / 1e6), float(usage.ru_maxrss / 1e3)}, {2});
  Tensor max_mb = mb.clone();
  groups_->world().all_reduce(max_mb, dist::ReduceOp::max);
  spdlog::info("memory {}: host tensors peak {:.1f} MB on rank 0 ({:.1f} MB max over ranks); peak resident {:.1f} MB "
               "on rank 0 ({:.1f} MB max)", when, mb.item(0), max_mb.item(0), mb.item(1), max_mb.item(1));
}

void Trainer::record(const IterationStats& s) {
  if (world_.rank != 0) return;
  if (!std::isfinite(s.loss)) ++nan_iterations_;
  const double tflops_per_rank = s.tflops / world_.size, mfu = peak_tflops_ > 0.0 ? tflops_per_rank / peak_tflops_ : 0.0;
  if (metrics_.is_open()) {
    nlohmann::json line = {{"iteration", s.iteration},   {"loss", s.loss}, {"data_batch", s.data_batch},
                           {"lr", s.lr},                 {"grad_norm", s.grad_norm},
                           {"tokens_per_s", s.tokens_per_s}, {"ms_per_iter", s.seconds * 1e3},
                           {"tflops", s.tflops},         {"tflops_per_rank", tflops_per_rank}, {"mfu", mfu},
                           {"consumed_samples", s.data_batch * cfg_.global_batch_size},
                           {"loss_scale", s.loss_scale}, {"skipped", s.skipped},
                           {"skipped_iterations", skipped_iterations_}, {"nan_iterations", nan_iterations_}};
    if (s.skipped) line["grad_norm"] = nullptr;  // JSON has no NaN
    metrics_ << line.dump() << '\n';
    metrics_.flush();
  }
  interval_seconds_ += s.seconds;
  ++interval_iterations_;
  const double eta = interval_seconds_ / double(interval_iterations_) * double(cfg_.train_iters - s.iteration);
  // A terminal: a single process's own, or trident-run's (it knows; under mpirun a rank's stdout is a pipe or pty).
  const char* progress = std::getenv("TRIDENT_PROGRESS");
  const bool terminal = progress ? std::string_view(progress) == "1" : world_.size == 1 && ::isatty(STDOUT_FILENO) == 1;
  if (terminal) std::fputs("\r\033[K", stdout);  // clear the progress bar before a log line
  if (s.skipped)
    spdlog::warn("iteration {}: non-finite gradient, step skipped (loss scale {:.0f}, {} skipped so far)", s.iteration,
                 s.loss_scale, skipped_iterations_);
  if (s.iteration % cfg_.log_interval == 0 || s.iteration == cfg_.train_iters) {
    spdlog::info("iteration {:>6}/{:<6} | consumed samples {:>8} | ms/iter {:8.1f} | lr {:.3E} | loss {:.4f} | "
                 "grad norm {:.3f} | loss scale {:.0f} | skipped {} | nan {} | tokens/s {:8.0f} | "
                 "TFLOP/s per rank {:.3f} | MFU {:.3f} | ETA {:.0f}:{:02.0f}",
                 s.iteration, cfg_.train_iters, s.data_batch * cfg_.global_batch_size,
                 interval_seconds_ / double(interval_iterations_) * 1e3, s.lr, s.loss, s.grad_norm, s.loss_scale,
                 skipped_iterations_, nan_iterations_, s.tokens_per_s, tflops_per_rank, mfu, std::floor(eta / 60.0),
                 std::fmod(eta, 60.0));
    interval_seconds_ = 0.0;
    interval_iterations_ = 0;
  }
  if (terminal) {  // one line, redrawn in place: only on a terminal, never into a log file
    const int width = 30, done = int(width * s.iteration / std::max<int64_t>(1, cfg_.train_iters));
    std::printf("[%s%s] %lld/%lld loss %.3f ETA %.0f s", std::string(size_t(done), '=').c_str(),
                std::string(size_t(width - done), ' ').c_str(), static_cast<long long>(s.iteration),
                static_cast<long long>(cfg_.train_iters), s.loss, eta);
    std::fflush(stdout);
  }
}

}  // namespace trident::launch
