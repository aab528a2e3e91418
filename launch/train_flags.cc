// trident-train's flag table, one function per group (Megatron-LM's names
// wherever Megatron has the flag). A new flag goes in its group's function;
// the config JSON, --config files, --help and docs/flags.md follow from it.
#include "launch/train_flags.h"

namespace trident::launch {
namespace {

void add_model_flags(FlagTable& f, TrainConfig& c) {
  f.group("model");
  f.option("--num-layers", c.model.num_layers, "transformer layers")->capture_default_str();
  f.option("--hidden-size", c.model.hidden_size, "model width h")->capture_default_str();
  f.option("--num-attention-heads", c.model.num_attention_heads, "attention heads")->capture_default_str();
  f.option("--seq-length", c.model.seq_length, "tokens per sequence (and learned positions, or RoPE's)")
      ->capture_default_str();
  f.option("--vocab-size", c.model.vocab_size,
           "vocabulary of the data (256 for text read as bytes; the tokenizer's for Megatron data)")
      ->capture_default_str();
  f.option("--make-vocab-size-divisible-by", c.model.make_vocab_size_divisible_by,
           "pad the vocabulary to a multiple of this x tp")->capture_default_str();
  f.option("--position-embedding-type", c.model.position_embedding_type,
           "learned_absolute (GPT-2's table) or rope (rotary, HF Llama's rotate-half)")->capture_default_str();
  f.option("--rotary-base", c.model.rotary_base, "RoPE's base θ (Llama 3: 500000)")->capture_default_str();
  f.option("--normalization", c.model.normalization, "LayerNorm or RMSNorm")->capture_default_str();
  f.option("--norm-epsilon", c.model.norm_epsilon, "ε of the normalisation layers")->capture_default_str();
  f.flag("--swiglu", c.model.swiglu, "SwiGLU MLP: silu(gate) x up, with gate and up projections of --ffn-hidden-size");
  f.option("--ffn-hidden-size", c.model.ffn_hidden_size,
           "the MLP's inner width (default: 4h, with --swiglu 8h/3 rounded down to a multiple of 64)");
  f.flag("--group-query-attention", c.model.group_query_attention,
         "grouped-query attention: --num-query-groups key/value heads shared by the query heads");
  f.option("--num-query-groups", c.model.num_query_groups, "key/value heads with --group-query-attention")
      ->capture_default_str();
  f.flag("--untie-embeddings-and-output-weights", c.model.untie_embeddings_and_output_weights,
         "an output layer of its own instead of the token table");
  f.flag("--disable-bias-linear", c.model.disable_bias_linear, "no biases in the attention and MLP projections");
  f.option("--init-method-std", c.model.init_method_std,
           "standard deviation of the initial weights (output projections: this / sqrt(2 x layers))")
      ->capture_default_str();
}

void add_training_flags(FlagTable& f, TrainConfig& c) {
  f.group("training");
  f.option("--micro-batch-size", c.micro_batch_size, "sequences per forward/backward")->capture_default_str();
  f.option("--global-batch-size", c.global_batch_size, "sequences per optimizer step")->capture_default_str();
  f.option("--train-iters", c.train_iters, "optimizer steps")->capture_default_str();
  f.option("--lr", c.lr, "peak learning rate")->capture_default_str();
  f.option("--min-lr", c.min_lr, "learning rate at the end of decay")->capture_default_str();
  f.option("--lr-warmup-iters", c.lr_warmup_iters, "linear warm-up steps")->capture_default_str();
  f.option("--lr-decay-iters", c.lr_decay_iters, "step at which min-lr is reached (default: --train-iters)");
  f.option("--lr-decay-style", c.lr_decay_style, "constant, linear or cosine")->capture_default_str();
  f.option("--weight-decay", c.adam.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  f.option("--adam-beta1", c.adam.beta1, "AdamW β1")->capture_default_str();
  f.option("--adam-beta2", c.adam.beta2, "AdamW β2")->capture_default_str();
  f.option("--adam-eps", c.adam.eps, "AdamW ε")->capture_default_str();
  f.option("--clip-grad", c.clip_grad, "global gradient-norm clip (0: off)")->capture_default_str();
  f.option("--seed", c.seed, "seed of initialisation and data sampling")->capture_default_str();
}

void add_data_flags(FlagTable& f, TrainConfig& c) {
  f.group("data");
  f.option("--data-path", c.data_path,
           "text file, directory of text files, or the prefix of a Megatron .bin/.idx pair; or a blend of "
           "weight-path pairs: 0.7 A 0.3 B")->capture_default_str()->expected(1, -1);
  f.option("--split", c.split,
           "train,validation,test weights: training reads the first share (documents), evaluation the second")
      ->capture_default_str();
  f.option("--tokenizer-type", c.tokenizer_type,
           "ByteTokenizer (text as bytes, vocabulary 256) or GPT2BPETokenizer (--vocab-file, --merge-file); text is "
           "tokenized once into --data-cache-path")->capture_default_str();
  f.option("--vocab-file", c.vocab_file, "GPT2BPETokenizer: GPT-2's vocab.json");
  f.option("--merge-file", c.merge_file, "GPT2BPETokenizer: GPT-2's merges.txt");
  f.option("--data-cache-path", c.data_cache_path,
           "where text tokenized by --tokenizer-type is kept (default: DIR/data_cache under --save or --load, "
           "else ./trident_data_cache)");
  f.option("--valid-data-path", c.valid_data_path,
           "evaluate on this text file, directory or .bin/.idx prefix instead of the validation share of --split");
}

void add_evaluation_flags(FlagTable& f, TrainConfig& c) {
  f.group("evaluation");
  f.option("--eval-interval", c.eval_interval,
           "iterations between evaluations of the validation loss, and one at the end (0: none)")
      ->capture_default_str();
  f.option("--eval-iters", c.eval_iters, "global batches of validation data per evaluation")->capture_default_str();
  f.flag("--skip-train", c.skip_train, "evaluate (the --load checkpoint, or the initial model) without training");
}

void add_parallel_flags(FlagTable& f, TrainConfig& c) {
  f.group("parallelism");
  f.option("--tensor-model-parallel-size,--tp", c.tensor_model_parallel_size, "tensor-parallel degree")
      ->capture_default_str();
  f.option("--pipeline-model-parallel-size,--pp", c.pipeline_model_parallel_size, "pipeline-parallel degree")
      ->capture_default_str();
  f.option("--data-parallel-size,--dp", c.data_parallel_size,
           "data-parallel degree (default: world / (tp x pp); checked when given)");
  f.option("--pipeline-schedule", c.pipeline_schedule,
           "gpipe, 1f1b or interleaved (default: interleaved with virtual stages, else 1f1b)");
  f.option("--num-virtual-stages-per-pipeline-rank", c.num_virtual_stages,
           "model chunks per pipeline rank (interleaved schedule)")->capture_default_str();
  f.option("--pipeline-layers-per-stage", c.pipeline_layers_per_stage,
           "layers of each virtual pipeline stage, e.g. 3,5 (default: an even split)")->delimiter(',');
  f.option("--recompute-granularity", c.recompute_granularity,
           "recompute activations in backward: full (keep each layer's input) or selective (attention core)");
  f.flag("--print-schedule", c.print_schedule,
         "print each pipeline rank's timeline under this schedule (backward = 2 x forward) and exit");
  f.option("--ddp-bucket-size", c.ddp_bucket_size, "f32 elements per data-parallel gradient bucket")
      ->capture_default_str();
  f.flag("--overlap-grad-reduce,!--no-overlap-grad-reduce", c.overlap_grad_reduce,
         "start each gradient bucket's all-reduce during backward (default on)");
  f.flag("--use-distributed-optimizer", c.use_distributed_optimizer,
         "shard the FP32 master weights and Adam moments over the data-parallel ranks (ZeRO-1): gradients are "
         "reduce-scattered, each rank steps its shard, the parameters are all-gathered");
  f.flag("--sequence-parallel", c.sequence_parallel,
         "with --tp > 1: layer norms, residuals and dropout-free regions between the TP layers hold 1/tp of the "
         "tokens each (all-gather into, reduce-scatter out of each TP region)");
}

void add_device_flags(FlagTable& f, TrainConfig& c) {
  f.group("device");
  f.option("--device", c.device, "auto, cpu or cuda (auto: a GPU when one is visible); with cuda, local rank r "
           "uses visible GPU r mod (GPUs visible)")->capture_default_str();
  f.option("--comm", c.comm, "how ranks exchange device tensors: mpi (staged through host memory; any "
           "number of ranks may share a GPU), nccl (one GPU per rank; collectives on the GPU, pipeline "
           "transfers still by MPI) or auto (mpi)")->capture_default_str();
  f.option("--threads", c.threads, "CPU threads for this process (default: OMP_NUM_THREADS or all cores)");
}

void add_precision_flags(FlagTable& f, TrainConfig& c) {
  f.group("precision");
  f.flag("--fp16", c.fp16, "compute in float16 with dynamic loss scaling, FP32 master weights");
  f.flag("--bf16", c.bf16, "compute in bfloat16, FP32 master weights");
  f.option("--loss-scale", c.loss_scale, "static loss scale for --fp16 (default: dynamic)");
  f.option("--initial-loss-scale", c.loss_scaler.initial_scale, "dynamic loss scale at start")
      ->capture_default_str();
  f.option("--min-loss-scale", c.loss_scaler.min_scale, "dynamic loss scale floor")->capture_default_str();
  f.option("--loss-scale-window", c.loss_scaler.window, "clean steps before the scale doubles")
      ->capture_default_str();
  f.option("--hysteresis", c.loss_scaler.hysteresis, "overflows tolerated before the scale halves")
      ->capture_default_str();
}

void add_checkpoint_flags(FlagTable& f, TrainConfig& c) {
  f.group("checkpointing");
  f.option("--save", c.save, "save checkpoints (sharded HDF5) under this directory");
  f.option("--save-interval", c.save_interval,
           "iterations between checkpoints (0: only at the end, or on SIGTERM/SIGUSR1)")->capture_default_str();
  f.option("--keep-last", c.keep_last, "keep only the newest N committed checkpoints (0: all)")
      ->capture_default_str();
  f.option("--load", c.load, "resume from the latest checkpoint under this directory");
  f.option("--load-iteration", c.load_iteration, "with --load: this iteration instead of the latest");
  f.flag("--no-load-optim", c.no_load_optim, "with --load: fresh optimizer state and loss scale");
  f.flag("--no-load-rng", c.no_load_rng, "with --load: data order from this run's --seed");
  f.flag("--finetune", c.finetune, "with --load: weights only; iteration count, optimizer and data restart");
  f.option("--load-hf", c.load_hf,
           "start (iteration 0, fresh optimizer) from a HuggingFace Llama or GPT-2 directory (config.json + "
           "safetensors), in any layout; config.json gives the model flags left out; the data must be tokenized with "
           "that model's tokenizer (Megatron .bin/.idx); a checkpoint under --load wins");
  f.flag("--override-opt-param-scheduler", c.override_opt_param_scheduler,
         "with --load: the LR schedule flags given here replace the checkpoint's");
  f.flag("--use-checkpoint-opt-param-scheduler", c.use_checkpoint_opt_param_scheduler,
         "with --load: keep the checkpoint's LR schedule, whatever flags are given");
  f.option("--exit-interval", c.exit_interval,
           "save (with --save) and exit 0 after an iteration divisible by this (0: never)")->capture_default_str();
  f.option("--exit-duration-in-mins", c.exit_duration_in_mins,
           "save (with --save) and exit 0 after the first iteration that ends this many minutes after start (0: never)")
      ->capture_default_str();
  f.option("--export-safetensors", c.export_safetensors,
           "after training, write every parameter as one whole tensor to this safetensors file");
  f.option("--export-hf", c.export_hf,
           "after training, write a directory transformers loads (LlamaForCausalLM or GPT2LMHeadModel: "
           "model.safetensors + config.json); it must be new, empty or a previous export, which it replaces");
}

void add_guard_flags(FlagTable& f, TrainConfig& c) {
  f.group("divergence guard");
  f.option("--spike-window", c.guard.window, "healthy iterations in the loss statistics")->capture_default_str();
  f.option("--spike-threshold", c.guard.threshold,
           "a spike is a loss above mean + this x std (and 1.05 x median)")->capture_default_str();
  f.option("--spike-patience", c.guard.patience, "spiking iterations in a row to act")->capture_default_str();
  f.option("--max-consecutive-skips", c.guard.max_consecutive_skips,
           "(fp16) skipped steps in a row that count as divergence")->capture_default_str();
  f.option("--max-rollbacks", c.guard.max_rollbacks,
           "give up (exit 3) after this many rollbacks within --rollback-window")->capture_default_str();
  f.option("--rollback-window", c.guard.rollback_window, "iterations over which rollbacks count")
      ->capture_default_str();
  f.option("--rollback-skip-batches", c.rollback_skip_batches, "data batches to skip beyond the anomaly's")
      ->capture_default_str();
  f.option("--rollback-lr-scale", c.rollback_lr_scale,
           "multiply the learning rate by this after each rollback, for the rest of the run")->capture_default_str();
  f.option("--inject-fault", c.inject_faults,
           "test the guard: nan@ITER[:RANK][:repeat] or spike@ITER[:repeat] (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);  // every occurrence counts
}

void add_logging_flags(FlagTable& f, TrainConfig& c) {
  f.group("logging");
  f.option("--log-interval", c.log_interval, "iterations between log lines")->capture_default_str();
  f.option("--metrics-file", c.metrics_file,
           "write one JSON object per iteration (and per evaluation and guard event) to this file");
  f.option("--peak-tflops", c.peak_tflops,
           "each rank's peak TFLOP/s for the MFU in the log (default: measure the GEMM peak at start)");
  f.option("--trace", c.trace,
           "write a Chrome trace (Perfetto, chrome://tracing) of the first --trace-iterations, one track per rank");
  f.option("--trace-iterations", c.trace_iterations, "iterations to trace")->capture_default_str();
}

}  // namespace

FlagTable add_train_flags(CLI::App& app, TrainConfig& c) {
  FlagTable f(app);
  add_model_flags(f, c);
  add_training_flags(f, c);
  add_data_flags(f, c);
  add_evaluation_flags(f, c);
  add_parallel_flags(f, c);
  add_device_flags(f, c);
  add_precision_flags(f, c);
  add_checkpoint_flags(f, c);
  add_guard_flags(f, c);
  add_logging_flags(f, c);
  return f;
}

nlohmann::json TrainConfig::to_json() const {
  TrainConfig copy = *this;  // the table binds to a config it may write; this one stays const
  CLI::App app;
  return add_train_flags(app, copy).to_json();
}

void record_flags_given(const CLI::App& app, TrainConfig& cfg) {
  for (const CLI::Option* o : app.get_options())
    if (o->count() > 0 && !o->get_lnames().empty()) cfg.flags_given.insert(FlagTable::key_of(*o));
}

std::string flag_reference(const CLI::App& app) {
  std::string out =
      "# trident-train flags\n\n"
      "Generated from the flag table (`launch/train_flags.cc`) by\n"
      "`build/bin/trident-train --print-flag-reference > docs/flags.md`;\n"
      "the test `trident_flag_reference` fails when this file and the program disagree.\n"
      "Every flag can also be a key of a `--config FILE` JSON object.\n";
  std::string group;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_lnames().empty() || o->get_group().empty() || o->get_lnames().front() == "help") continue;  // hidden
    if (o->get_group() != group) {
      group = o->get_group();
      out += "\n## " + group + "\n\n| flag | default | meaning |\n|---|---|---|\n";
    }
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

}  // namespace trident::launch
