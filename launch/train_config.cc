#include "launch/train_config.h"

#include <cstdlib>
#include <algorithm>
#include <thread>

#include "framework/backend/backend.h"
#include "framework/dist/process_groups.h"
#include "framework/core/error.h"
#include "launch/fault_injection.h"
#include "launch/hf_checkpoint.h"

namespace trident::launch {

optim::LrSchedule TrainConfig::lr_schedule() const {
  return optim::LrSchedule{lr, min_lr, lr_warmup_iters, lr_decay_iters, optim::decay_style_from_name(lr_decay_style)};
}

gpt::PipelineStages TrainConfig::pipeline_stages() const {
  if (pipeline_layers_per_stage.empty())
    return gpt::PipelineStages::even(model.num_layers, pipeline_model_parallel_size, num_virtual_stages);
  return gpt::PipelineStages::uneven(pipeline_layers_per_stage, model.num_layers, pipeline_model_parallel_size,
                                     num_virtual_stages);
}

std::vector<std::pair<double, std::string>> TrainConfig::data_sources() const {
  if (data_path.size() == 1) return {{1.0, data_path[0]}};
  std::vector<std::pair<double, std::string>> out;
  for (size_t i = 0; i + 1 < data_path.size() && data_path.size() % 2 == 0; i += 2) {
    char* end = nullptr;
    const double w = std::strtod(data_path[i].c_str(), &end);
    if (end == data_path[i].c_str() || *end != '\0' || !(w > 0.0)) break;
    out.emplace_back(w, data_path[i + 1]);
  }
  TRIDENT_USAGE_CHECK(!out.empty() && out.size() * 2 == data_path.size(), "--data-path takes one path or ",
                      "weight-path pairs such as --data-path 0.7 A 0.3 B (weights positive), got ", data_path.size(),
                      " value(s)");
  return out;
}

namespace {

void check_precision(TrainConfig& c) {
  TRIDENT_USAGE_CHECK(!(c.fp16 && c.bf16), "--fp16 and --bf16 exclude each other: choose one");
  c.model.dtype = c.fp16 ? DType::f16 : c.bf16 ? DType::bf16 : DType::f32;
  TRIDENT_USAGE_CHECK(c.loss_scale >= 0.0, "--loss-scale must be positive, got ", c.loss_scale);
  c.loss_scaler.dynamic = c.fp16 && c.loss_scale == 0.0;  // BF16 and FP32 need no scaling
  c.loss_scaler.static_scale = c.fp16 && c.loss_scale > 0.0 ? c.loss_scale : 1.0;
}

void check_batch_and_pipeline(TrainConfig& c, const dist::Layout& layout) {
  c.model.validate(layout.tp);
  TRIDENT_USAGE_CHECK(c.micro_batch_size > 0, "--micro-batch-size must be positive, got ", c.micro_batch_size);
  TRIDENT_USAGE_CHECK(c.global_batch_size > 0, "--global-batch-size must be positive, got ", c.global_batch_size);
  TRIDENT_USAGE_CHECK(c.global_batch_size % (c.micro_batch_size * layout.dp) == 0, "--global-batch-size ",
                      c.global_batch_size, " is not a multiple of --micro-batch-size ", c.micro_batch_size,
                      " x data-parallel size ", layout.dp);
  c.model.recompute = gpt::recompute_from_name(c.recompute_granularity);
  TRIDENT_USAGE_CHECK(c.num_virtual_stages >= 1, "--num-virtual-stages-per-pipeline-rank must be positive, got ",
                      c.num_virtual_stages);
  if (c.pipeline_schedule.empty()) c.pipeline_schedule = c.num_virtual_stages > 1 ? "interleaved" : "1f1b";
  pipeline::check_shape(c.schedule_kind(), c.schedule_shape(layout.dp));
  (void)c.pipeline_stages();  // checks the layer split
  TRIDENT_USAGE_CHECK(c.ddp_bucket_size > 0, "--ddp-bucket-size must be positive, got ", c.ddp_bucket_size);
  TRIDENT_USAGE_CHECK(!c.sequence_parallel || layout.tp > 1,
                      "--sequence-parallel shards activations over tensor-parallel ranks: it needs --tp > 1 (got --tp ",
                      layout.tp, "); drop --sequence-parallel or raise --tp");
  TRIDENT_USAGE_CHECK(!c.sequence_parallel || c.model.seq_length % layout.tp == 0, "--sequence-parallel needs ",
                      "--seq-length divisible by --tp: ", c.model.seq_length, " is not a multiple of ", layout.tp);
}

void check_checkpointing(const TrainConfig& c) {
  TRIDENT_USAGE_CHECK(c.save_interval >= 0, "--save-interval must not be negative, got ", c.save_interval);
  TRIDENT_USAGE_CHECK(c.keep_last >= 0, "--keep-last must not be negative, got ", c.keep_last);
  TRIDENT_USAGE_CHECK(c.load_iteration >= -1, "--load-iteration must not be negative, got ", c.load_iteration);
  TRIDENT_USAGE_CHECK(c.exit_interval >= 0, "--exit-interval must not be negative (0: never), got ", c.exit_interval);
  TRIDENT_USAGE_CHECK(c.exit_duration_in_mins >= 0.0, "--exit-duration-in-mins must not be negative (0: never), got ",
                      c.exit_duration_in_mins);
  TRIDENT_USAGE_CHECK(!c.load.empty() || (c.load_iteration < 0 && !c.no_load_optim && !c.no_load_rng && !c.finetune),
                      "--load-iteration, --no-load-optim, --no-load-rng and --finetune need --load DIR");
  if (!c.export_hf.empty()) (void)hf_model_of(c.model);  // a model no HF class has is refused before training
}

void check_guard(const TrainConfig& c) {
  const DivergenceGuardConfig& g = c.guard;
  TRIDENT_USAGE_CHECK(g.window >= 2, "--spike-window must be at least 2, got ", g.window);
  TRIDENT_USAGE_CHECK(g.threshold > 0.0, "--spike-threshold must be positive, got ", g.threshold);
  TRIDENT_USAGE_CHECK(g.patience >= 1, "--spike-patience must be at least 1, got ", g.patience);
  TRIDENT_USAGE_CHECK(g.max_consecutive_skips >= 1, "--max-consecutive-skips must be at least 1, got ",
                      g.max_consecutive_skips);
  TRIDENT_USAGE_CHECK(g.max_rollbacks >= 0, "--max-rollbacks must not be negative, got ", g.max_rollbacks);
  TRIDENT_USAGE_CHECK(g.rollback_window >= 1, "--rollback-window must be positive, got ", g.rollback_window);
  TRIDENT_USAGE_CHECK(c.rollback_skip_batches >= 0, "--rollback-skip-batches must not be negative, got ",
                      c.rollback_skip_batches);
  TRIDENT_USAGE_CHECK(c.rollback_lr_scale > 0.0 && c.rollback_lr_scale <= 1.0,
                      "--rollback-lr-scale must lie in (0, 1], got ", c.rollback_lr_scale);
  for (const std::string& spec : c.inject_faults) (void)parse_injected_fault(spec);
}

void check_optimizer(TrainConfig& c) {
  TRIDENT_USAGE_CHECK(c.train_iters > 0, "--train-iters must be positive, got ", c.train_iters);
  TRIDENT_USAGE_CHECK(c.lr > 0.f, "--lr must be positive, got ", c.lr);
  TRIDENT_USAGE_CHECK(c.min_lr >= 0.f && c.min_lr <= c.lr, "--min-lr must lie in [0, --lr], got ", c.min_lr);
  TRIDENT_USAGE_CHECK(c.lr_warmup_iters >= 0, "--lr-warmup-iters must not be negative, got ", c.lr_warmup_iters);
  if (c.lr_decay_iters == 0) c.lr_decay_iters = c.train_iters;
  TRIDENT_USAGE_CHECK(c.lr_decay_iters > c.lr_warmup_iters, "--lr-decay-iters ", c.lr_decay_iters,
                      " must exceed --lr-warmup-iters ", c.lr_warmup_iters);
  // Past the schedule's end the LR is --min-lr: at 0 those iterations would change nothing.
  TRIDENT_USAGE_CHECK(c.train_iters <= c.lr_decay_iters || c.min_lr > 0.f || c.lr_decay_style == "constant",
                      "--train-iters ", c.train_iters, " goes past the LR schedule's end at --lr-decay-iters ",
                      c.lr_decay_iters, " with --min-lr 0: those iterations would train at LR 0; give --lr-decay-iters ",
                      c.train_iters, " (on a resume with --override-opt-param-scheduler) or a --min-lr");
  (void)optim::decay_style_from_name(c.lr_decay_style);
  const optim::AdamWConfig& a = c.adam;
  TRIDENT_USAGE_CHECK(a.weight_decay >= 0.f, "--weight-decay must not be negative, got ", a.weight_decay);
  TRIDENT_USAGE_CHECK(a.beta1 >= 0.f && a.beta1 < 1.f && a.beta2 >= 0.f && a.beta2 < 1.f,
                      "--adam-beta1 and --adam-beta2 must lie in [0, 1)");
  TRIDENT_USAGE_CHECK(a.eps > 0.f, "--adam-eps must be positive, got ", a.eps);
  TRIDENT_USAGE_CHECK(c.clip_grad >= 0.f, "--clip-grad must not be negative (0 turns clipping off), got ",
                      c.clip_grad);
  TRIDENT_USAGE_CHECK(c.model.init_method_std > 0.f, "--init-method-std must be positive, got ",
                      c.model.init_method_std);
}

void check_evaluation(const TrainConfig& c) {
  TRIDENT_USAGE_CHECK(c.eval_interval >= 0, "--eval-interval must not be negative (0 turns evaluation off), got ",
                      c.eval_interval);
  TRIDENT_USAGE_CHECK(c.eval_iters > 0 || !c.evaluates(), "--eval-iters must be positive, got ", c.eval_iters);
  // The validation share itself is measured when the data is read (data::TextCorpus::load).
}

void check_logging(const TrainConfig& c) {
  TRIDENT_USAGE_CHECK(c.log_interval > 0, "--log-interval must be positive, got ", c.log_interval);
  TRIDENT_USAGE_CHECK(c.peak_tflops >= 0.0, "--peak-tflops must not be negative, got ", c.peak_tflops);
  TRIDENT_USAGE_CHECK(c.trace_iterations >= 1, "--trace-iterations must be positive, got ", c.trace_iterations);
}

void resolve_device(TrainConfig& c, int local_size) {
  TRIDENT_USAGE_CHECK(c.threads >= 0, "--threads must not be negative, got ", c.threads);
  TRIDENT_USAGE_CHECK(c.device == "auto" || c.device == "cpu" || c.device == "cuda", "unknown --device '", c.device,
                      "': use auto, cpu or cuda");
  if (c.device == "auto") c.device = backend::cuda_device_count() > 0 ? "cuda" : "cpu";
  TRIDENT_USAGE_CHECK(c.comm == "auto" || c.comm == "mpi" || c.comm == "nccl", "unknown --comm '", c.comm,
                      "': use auto, mpi or nccl");
  if (c.comm == "auto") c.comm = "mpi";  // NCCL is opt-in until it has run on several GPUs (docs/decisions.md)
  if (c.comm == "nccl") {
    TRIDENT_USAGE_CHECK(c.device == "cuda", "--comm nccl moves device tensors: it needs --device cuda");
    const int gpus = backend::cuda_device_count();
    TRIDENT_USAGE_CHECK(local_size <= gpus, "--comm nccl needs a GPU per rank, but ", local_size,
                        " ranks on this node see ", gpus, " GPU(s): use --comm mpi to share GPUs");
  }
  if (c.threads == 0) {
    const char* omp = std::getenv("OMP_NUM_THREADS");
    // Ranks on one node share its cores.
    c.threads = omp && std::atoi(omp) > 0
                    ? std::atoi(omp)
                    : std::max(1, int(std::thread::hardware_concurrency()) / std::max(1, local_size));
  }
}

}  // namespace

void TrainConfig::resolve_precision() { check_precision(*this); }

void TrainConfig::validate_and_resolve(int world_size, int local_size) {
  const dist::Layout layout = dist::resolve_layout(world_size, tensor_model_parallel_size,
                                                   pipeline_model_parallel_size, data_parallel_size);
  data_parallel_size = layout.dp;
  check_precision(*this);
  check_batch_and_pipeline(*this, layout);
  check_checkpointing(*this);
  check_guard(*this);
  check_optimizer(*this);
  check_evaluation(*this);
  check_logging(*this);
  resolve_device(*this, local_size);
}

}  // namespace trident::launch
