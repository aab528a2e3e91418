#include "launch/train_config.h"

#include <cstdlib>
#include <algorithm>
#include <thread>

#include "framework/backend/backend.h"
#include "framework/dist/process_groups.h"
#include "framework/core/error.h"
#include "launch/fault_injection.h"

namespace trident::launch {

void add_train_flags(CLI::App& app, TrainConfig& c) {
  // A flag given twice takes its last value, so a wrapper's defaults can be overridden.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--num-layers", c.model.num_layers, "transformer layers")->capture_default_str();
  app.add_option("--hidden-size", c.model.hidden_size, "model width h")->capture_default_str();
  app.add_option("--num-attention-heads", c.model.num_attention_heads, "attention heads")->capture_default_str();
  app.add_option("--seq-length", c.model.seq_length, "tokens per sequence (and learned positions)")->capture_default_str();
  app.add_option("--micro-batch-size", c.micro_batch_size, "sequences per forward/backward")->capture_default_str();
  app.add_option("--global-batch-size", c.global_batch_size, "sequences per optimizer step")->capture_default_str();
  app.add_option("--train-iters", c.train_iters, "optimizer steps")->capture_default_str();
  app.add_option("--lr", c.lr, "peak learning rate")->capture_default_str();
  app.add_option("--min-lr", c.min_lr, "learning rate at the end of decay")->capture_default_str();
  app.add_option("--lr-warmup-iters", c.lr_warmup_iters, "linear warm-up steps")->capture_default_str();
  app.add_option("--lr-decay-iters", c.lr_decay_iters, "step at which min-lr is reached (default: --train-iters)");
  app.add_option("--lr-decay-style", c.lr_decay_style, "constant, linear or cosine")->capture_default_str();
  app.add_option("--weight-decay", c.adam.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  app.add_option("--adam-beta1", c.adam.beta1, "AdamW β1")->capture_default_str();
  app.add_option("--adam-beta2", c.adam.beta2, "AdamW β2")->capture_default_str();
  app.add_option("--adam-eps", c.adam.eps, "AdamW ε")->capture_default_str();
  app.add_option("--clip-grad", c.clip_grad, "global gradient-norm clip (0: off)")->capture_default_str();
  app.add_option("--seed", c.seed, "seed of initialisation and data sampling")->capture_default_str();
  app.add_option("--data-path", c.data_path,
                 "text file, directory of text files, or the prefix of a Megatron .bin/.idx pair")
      ->capture_default_str();
  app.add_option("--split", c.split, "train,validation,test weights: training reads the first share (documents)")
      ->capture_default_str();
  app.add_option("--vocab-size", c.model.vocab_size,
                 "vocabulary of the data (256 for text read as bytes; the tokenizer's for Megatron data)")
      ->capture_default_str();
  app.add_option("--log-interval", c.log_interval, "iterations between log lines")->capture_default_str();
  app.add_option("--metrics-file", c.metrics_file, "write one JSON object per iteration to this file");
  app.add_option("--export-safetensors", c.export_safetensors,
                 "after training, write every parameter as one whole tensor to this safetensors file");
  app.add_option("--threads", c.threads, "CPU threads for this process (default: OMP_NUM_THREADS or all cores)");
  app.add_option("--device", c.device, "auto, cpu or cuda (auto: a GPU when one is visible); with cuda, local rank r "
                 "uses visible GPU r mod (GPUs visible)")->capture_default_str();
  app.add_option("--comm", c.comm, "how ranks exchange device tensors: mpi (staged through host memory; any "
                 "number of ranks may share a GPU), nccl (one GPU per rank; collectives on the GPU, pipeline "
                 "transfers still by MPI) or auto (mpi)")->capture_default_str();
  app.add_option("--tensor-model-parallel-size,--tp", c.tensor_model_parallel_size, "tensor-parallel degree")
      ->capture_default_str();
  app.add_option("--pipeline-model-parallel-size,--pp", c.pipeline_model_parallel_size, "pipeline-parallel degree")
      ->capture_default_str();
  app.add_option("--data-parallel-size,--dp", c.data_parallel_size,
                 "data-parallel degree (default: world / (tp x pp); checked when given)");
  app.add_option("--make-vocab-size-divisible-by", c.model.make_vocab_size_divisible_by,
                 "pad the vocabulary to a multiple of this x tp")->capture_default_str();
  app.add_option("--pipeline-schedule", c.pipeline_schedule,
                 "gpipe, 1f1b or interleaved (default: interleaved with virtual stages, else 1f1b)");
  app.add_option("--num-virtual-stages-per-pipeline-rank", c.num_virtual_stages,
                 "model chunks per pipeline rank (interleaved schedule)")->capture_default_str();
  app.add_option("--pipeline-layers-per-stage", c.pipeline_layers_per_stage,
                 "layers of each virtual pipeline stage, e.g. 3,5 (default: an even split)")->delimiter(',');
  app.add_option("--recompute-granularity", c.recompute_granularity,
                 "recompute activations in backward: full (keep each layer's input) or selective (attention core)");
  app.add_flag("--print-schedule", c.print_schedule,
               "print each pipeline rank's timeline under this schedule (backward = 2 x forward) and exit");
  app.add_option("--save", c.save, "save checkpoints (sharded HDF5) under this directory");
  app.add_option("--save-interval", c.save_interval,
                 "iterations between checkpoints (0: only at the end, or on SIGTERM/SIGUSR1)")->capture_default_str();
  app.add_option("--keep-last", c.keep_last, "keep only the newest N committed checkpoints (0: all)")
      ->capture_default_str();
  app.add_option("--load", c.load, "resume from the latest checkpoint under this directory");
  app.add_option("--load-iteration", c.load_iteration, "with --load: this iteration instead of the latest");
  app.add_flag("--no-load-optim", c.no_load_optim, "with --load: fresh optimizer state and loss scale");
  app.add_flag("--no-load-rng", c.no_load_rng, "with --load: data order from this run's --seed");
  app.add_flag("--finetune", c.finetune, "with --load: weights only; iteration count, optimizer and data restart");
  app.add_option("--spike-window", c.guard.window, "divergence guard: healthy iterations in the loss statistics")
      ->capture_default_str();
  app.add_option("--spike-threshold", c.guard.threshold,
                 "divergence guard: a spike is a loss above mean + this x std (and 1.05 x median)")->capture_default_str();
  app.add_option("--spike-patience", c.guard.patience, "divergence guard: spiking iterations in a row to act")
      ->capture_default_str();
  app.add_option("--max-consecutive-skips", c.guard.max_consecutive_skips,
                 "divergence guard (fp16): skipped steps in a row that count as divergence")->capture_default_str();
  app.add_option("--max-rollbacks", c.guard.max_rollbacks,
                 "divergence guard: give up (exit 3) after this many rollbacks within --rollback-window")
      ->capture_default_str();
  app.add_option("--rollback-window", c.guard.rollback_window, "divergence guard: iterations over which rollbacks count")
      ->capture_default_str();
  app.add_option("--rollback-skip-batches", c.rollback_skip_batches,
                 "divergence guard: data batches to skip beyond the anomaly's")->capture_default_str();
  app.add_option("--rollback-lr-scale", c.rollback_lr_scale,
                 "divergence guard: multiply the learning rate by this after each rollback, for the rest of the run")
      ->capture_default_str();
  app.add_option("--inject-fault", c.inject_faults,
                 "test the divergence guard: nan@ITER[:RANK][:repeat] or spike@ITER[:repeat] (repeatable)");
  app.add_option("--peak-tflops", c.peak_tflops,
                 "each rank's peak TFLOP/s for the MFU in the log (default: measure the GEMM peak at start)");
  app.add_option("--trace", c.trace,
                 "write a Chrome trace (Perfetto, chrome://tracing) of the first --trace-iterations, one track per rank");
  app.add_option("--trace-iterations", c.trace_iterations, "iterations to trace")->capture_default_str();
  app.add_option("--ddp-bucket-size", c.ddp_bucket_size, "f32 elements per data-parallel gradient bucket")
      ->capture_default_str();
  app.add_flag("--fp16", c.fp16, "compute in float16 with dynamic loss scaling, FP32 master weights");
  app.add_flag("--bf16", c.bf16, "compute in bfloat16, FP32 master weights");
  app.add_option("--loss-scale", c.loss_scale, "static loss scale for --fp16 (default: dynamic)");
  app.add_option("--initial-loss-scale", c.loss_scaler.initial_scale, "dynamic loss scale at start")
      ->capture_default_str();
  app.add_option("--min-loss-scale", c.loss_scaler.min_scale, "dynamic loss scale floor")->capture_default_str();
  app.add_option("--loss-scale-window", c.loss_scaler.window, "clean steps before the scale doubles")
      ->capture_default_str();
  app.add_option("--hysteresis", c.loss_scaler.hysteresis, "overflows tolerated before the scale halves")
      ->capture_default_str();
  app.add_flag("--overlap-grad-reduce,!--no-overlap-grad-reduce", c.overlap_grad_reduce,
               "start each gradient bucket's all-reduce during backward (default on)");
}

std::string flag_reference(const CLI::App& app) {
  std::string out =
      "# trident-train flags\n\n"
      "Generated from the CLI definitions by `build/bin/trident-train --print-flag-reference > docs/flags.md`;\n"
      "the test `trident_flag_reference` fails when this file and the program disagree.\n"
      "Every flag can also be a key of a `--config FILE` JSON object.\n\n"
      "| flag | default | meaning |\n|---|---|---|\n";
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_lnames().empty() || o->get_group().empty()) continue;  // --help, hidden ones
    std::string names;
    for (const std::string& l : o->get_lnames()) names += (names.empty() ? "`--" : ", `--") + l + "`";
    std::string description = o->get_description();
    for (char& ch : description)
      if (ch == '|') ch = '/';
    out += "| " + names + " | " + (o->get_default_str().empty() ? "" : "`" + o->get_default_str() + "`") + " | " +
           description + " |\n";
  }
  return out;
}

optim::LrSchedule TrainConfig::lr_schedule() const {
  return optim::LrSchedule{lr, min_lr, lr_warmup_iters, lr_decay_iters, optim::decay_style_from_name(lr_decay_style)};
}

gpt::PipelineStages TrainConfig::pipeline_stages() const {
  if (pipeline_layers_per_stage.empty())
    return gpt::PipelineStages::even(model.num_layers, pipeline_model_parallel_size, num_virtual_stages);
  return gpt::PipelineStages::uneven(pipeline_layers_per_stage, model.num_layers, pipeline_model_parallel_size,
                                     num_virtual_stages);
}

nlohmann::json TrainConfig::to_json() const {
  return {{"num_layers", model.num_layers}, {"hidden_size", model.hidden_size},
          {"num_attention_heads", model.num_attention_heads}, {"seq_length", model.seq_length},
          {"vocab_size", model.vocab_size}, {"make_vocab_size_divisible_by", model.make_vocab_size_divisible_by},
          {"micro_batch_size", micro_batch_size}, {"global_batch_size", global_batch_size},
          {"train_iters", train_iters}, {"lr", lr}, {"min_lr", min_lr}, {"lr_warmup_iters", lr_warmup_iters},
          {"lr_decay_iters", lr_decay_iters}, {"lr_decay_style", lr_decay_style},
          {"weight_decay", adam.weight_decay}, {"adam_beta1", adam.beta1}, {"adam_beta2", adam.beta2},
          {"adam_eps", adam.eps}, {"clip_grad", clip_grad}, {"seed", seed}, {"data_path", data_path}, {"split", split},
          {"tensor_model_parallel_size", tensor_model_parallel_size},
          {"pipeline_model_parallel_size", pipeline_model_parallel_size}, {"data_parallel_size", data_parallel_size},
          {"pipeline_schedule", pipeline_schedule}, {"num_virtual_stages_per_pipeline_rank", num_virtual_stages},
          {"pipeline_layers_per_stage", pipeline_layers_per_stage},
          {"recompute_granularity", recompute_granularity}, {"fp16", fp16}, {"bf16", bf16},
          {"loss_scale", loss_scale}, {"initial_loss_scale", loss_scaler.initial_scale},
          {"min_loss_scale", loss_scaler.min_scale}, {"loss_scale_window", loss_scaler.window},
          {"hysteresis", loss_scaler.hysteresis}, {"ddp_bucket_size", ddp_bucket_size},
          {"overlap_grad_reduce", overlap_grad_reduce}, {"device", device}, {"comm", comm}, {"save", save},
          {"save_interval", save_interval}, {"keep_last", keep_last}, {"load", load},
          {"load_iteration", load_iteration}, {"no_load_optim", no_load_optim}, {"no_load_rng", no_load_rng},
          {"finetune", finetune}, {"spike_window", guard.window}, {"spike_threshold", guard.threshold},
          {"spike_patience", guard.patience}, {"max_consecutive_skips", guard.max_consecutive_skips},
          {"max_rollbacks", guard.max_rollbacks}, {"rollback_window", guard.rollback_window},
          {"rollback_skip_batches", rollback_skip_batches}, {"rollback_lr_scale", rollback_lr_scale}};
}

void TrainConfig::validate_and_resolve(int world_size, int local_size) {
  const dist::Layout layout = dist::resolve_layout(world_size, tensor_model_parallel_size,
                                                   pipeline_model_parallel_size, data_parallel_size);
  data_parallel_size = layout.dp;
  TRIDENT_USAGE_CHECK(!(fp16 && bf16), "--fp16 and --bf16 exclude each other: choose one");
  model.dtype = fp16 ? DType::f16 : bf16 ? DType::bf16 : DType::f32;
  TRIDENT_USAGE_CHECK(loss_scale >= 0.0, "--loss-scale must be positive, got ", loss_scale);
  loss_scaler.dynamic = fp16 && loss_scale == 0.0;  // BF16 and FP32 need no scaling
  loss_scaler.static_scale = fp16 && loss_scale > 0.0 ? loss_scale : 1.0;
  model.validate(layout.tp);
  TRIDENT_USAGE_CHECK(micro_batch_size > 0, "--micro-batch-size must be positive, got ", micro_batch_size);
  TRIDENT_USAGE_CHECK(global_batch_size > 0, "--global-batch-size must be positive, got ", global_batch_size);
  TRIDENT_USAGE_CHECK(global_batch_size % (micro_batch_size * layout.dp) == 0, "--global-batch-size ",
                      global_batch_size, " is not a multiple of --micro-batch-size ", micro_batch_size,
                      " x data-parallel size ", layout.dp);
  model.recompute = gpt::recompute_from_name(recompute_granularity);
  TRIDENT_USAGE_CHECK(num_virtual_stages >= 1, "--num-virtual-stages-per-pipeline-rank must be positive, got ",
                      num_virtual_stages);
  if (pipeline_schedule.empty()) pipeline_schedule = num_virtual_stages > 1 ? "interleaved" : "1f1b";
  pipeline::check_shape(schedule_kind(), schedule_shape(layout.dp));
  (void)pipeline_stages();  // checks the layer split
  TRIDENT_USAGE_CHECK(save_interval >= 0, "--save-interval must not be negative, got ", save_interval);
  TRIDENT_USAGE_CHECK(keep_last >= 0, "--keep-last must not be negative, got ", keep_last);
  TRIDENT_USAGE_CHECK(load_iteration >= -1, "--load-iteration must not be negative, got ", load_iteration);
  TRIDENT_USAGE_CHECK(!load.empty() || (load_iteration < 0 && !no_load_optim && !no_load_rng && !finetune),
                      "--load-iteration, --no-load-optim, --no-load-rng and --finetune need --load DIR");
  TRIDENT_USAGE_CHECK(guard.window >= 2, "--spike-window must be at least 2, got ", guard.window);
  TRIDENT_USAGE_CHECK(guard.threshold > 0.0, "--spike-threshold must be positive, got ", guard.threshold);
  TRIDENT_USAGE_CHECK(guard.patience >= 1, "--spike-patience must be at least 1, got ", guard.patience);
  TRIDENT_USAGE_CHECK(guard.max_consecutive_skips >= 1, "--max-consecutive-skips must be at least 1, got ",
                      guard.max_consecutive_skips);
  TRIDENT_USAGE_CHECK(guard.max_rollbacks >= 0, "--max-rollbacks must not be negative, got ", guard.max_rollbacks);
  TRIDENT_USAGE_CHECK(guard.rollback_window >= 1, "--rollback-window must be positive, got ", guard.rollback_window);
  TRIDENT_USAGE_CHECK(rollback_skip_batches >= 0, "--rollback-skip-batches must not be negative, got ",
                      rollback_skip_batches);
  TRIDENT_USAGE_CHECK(rollback_lr_scale > 0.0 && rollback_lr_scale <= 1.0,
                      "--rollback-lr-scale must lie in (0, 1], got ", rollback_lr_scale);
  for (const std::string& spec : inject_faults) (void)parse_injected_fault(spec);
  TRIDENT_USAGE_CHECK(peak_tflops >= 0.0, "--peak-tflops must not be negative, got ", peak_tflops);
  TRIDENT_USAGE_CHECK(trace_iterations >= 1, "--trace-iterations must be positive, got ", trace_iterations);
  TRIDENT_USAGE_CHECK(ddp_bucket_size > 0, "--ddp-bucket-size must be positive, got ", ddp_bucket_size);
  TRIDENT_USAGE_CHECK(train_iters > 0, "--train-iters must be positive, got ", train_iters);
  TRIDENT_USAGE_CHECK(lr > 0.f, "--lr must be positive, got ", lr);
  TRIDENT_USAGE_CHECK(min_lr >= 0.f && min_lr <= lr, "--min-lr must lie in [0, --lr], got ", min_lr);
  TRIDENT_USAGE_CHECK(lr_warmup_iters >= 0, "--lr-warmup-iters must not be negative, got ", lr_warmup_iters);
  if (lr_decay_iters == 0) lr_decay_iters = train_iters;
  TRIDENT_USAGE_CHECK(lr_decay_iters > lr_warmup_iters, "--lr-decay-iters ", lr_decay_iters,
                      " must exceed --lr-warmup-iters ", lr_warmup_iters);
  (void)optim::decay_style_from_name(lr_decay_style);
  TRIDENT_USAGE_CHECK(adam.weight_decay >= 0.f, "--weight-decay must not be negative, got ", adam.weight_decay);
  TRIDENT_USAGE_CHECK(adam.beta1 >= 0.f && adam.beta1 < 1.f && adam.beta2 >= 0.f && adam.beta2 < 1.f,
                      "--adam-beta1 and --adam-beta2 must lie in [0, 1)");
  TRIDENT_USAGE_CHECK(adam.eps > 0.f, "--adam-eps must be positive, got ", adam.eps);
  TRIDENT_USAGE_CHECK(clip_grad >= 0.f, "--clip-grad must not be negative (0 turns clipping off), got ", clip_grad);
  TRIDENT_USAGE_CHECK(log_interval > 0, "--log-interval must be positive, got ", log_interval);
  TRIDENT_USAGE_CHECK(threads >= 0, "--threads must not be negative, got ", threads);
  TRIDENT_USAGE_CHECK(device == "auto" || device == "cpu" || device == "cuda", "unknown --device '", device,
                      "': use auto, cpu or cuda");
  if (device == "auto") device = backend::cuda_device_count() > 0 ? "cuda" : "cpu";
  TRIDENT_USAGE_CHECK(comm == "auto" || comm == "mpi" || comm == "nccl", "unknown --comm '", comm,
                      "': use auto, mpi or nccl");
  if (comm == "auto") comm = "mpi";  // NCCL is opt-in until it has run on several GPUs (docs/decisions.md)
  if (comm == "nccl") {
    TRIDENT_USAGE_CHECK(device == "cuda", "--comm nccl moves device tensors: it needs --device cuda");
    const int gpus = backend::cuda_device_count();
    TRIDENT_USAGE_CHECK(local_size <= gpus, "--comm nccl needs a GPU per rank, but ", local_size,
                        " ranks on this node see ", gpus, " GPU(s): use --comm mpi to share GPUs");
  }
  if (threads == 0) {
    const char* omp = std::getenv("OMP_NUM_THREADS");
    // Ranks on one node share its cores.
    threads = omp && std::atoi(omp) > 0 ? std::atoi(omp)
                                        : std::max(1, int(std::thread::hardware_concurrency()) / std::max(1, local_size));
  }
}

}  // namespace trident::launch
