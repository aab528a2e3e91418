// TrainConfig: everything one training run is told, with Megatron-LM's
// flag names, and its validation (one-line UsageErrors naming the flag).
// The flags that set it: launch/train_flags.cc.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <set>
#include <string>

#include "framework/pipeline/schedule.h"
#include "launch/divergence_guard.h"
#include "models/gpt/config.h"
#include "models/gpt/pipeline_stages.h"
#include "optim/adamw.h"
#include "optim/loss_scaler.h"
#include "optim/lr_schedule.h"

namespace trident::launch {

struct TrainConfig {
  gpt::GptConfig model;
  int64_t micro_batch_size = 8;
  int64_t global_batch_size = 8;
  int64_t train_iters = 300;
  float lr = 1e-3f;
  float min_lr = 0.f;  // Megatron's default
  int64_t lr_warmup_iters = 0;
  int64_t lr_decay_iters = 0;  // 0: decay until train_iters
  std::string lr_decay_style = "cosine";
  optim::AdamWConfig adam;
  float clip_grad = 1.0f;
  uint64_t seed = 1234;
  // One path, or Megatron's blend of weight-path pairs: {"0.7", "A", "0.3", "B"}.
  std::vector<std::string> data_path = {"/usr/share/games/fortunes"};
  std::string split = "100,0,0";  // train,validation,test weights: training uses the first share
  std::string valid_data_path;    // evaluation data instead of the validation share; empty: the share
  // Tokenizer (data/tokenizer.h): text is read as bytes, or tokenized once into data_cache_path.
  std::string tokenizer_type = "ByteTokenizer";  // or GPT2BPETokenizer
  std::string vocab_file, merge_file;            // GPT-2's vocab.json and merges.txt
  std::string data_cache_path;                   // empty: DIR/data_cache under --save, else ./trident_data_cache
  // Evaluation (launch/evaluator.h): Megatron's --eval-interval, --eval-iters, --skip-train.
  int64_t eval_interval = 0;      // iterations between evaluations (and one at the end); 0: none
  int64_t eval_iters = 100;       // global batches per evaluation
  bool skip_train = false;        // evaluate only
  int64_t log_interval = 10;
  std::string metrics_file;  // JSONL, one object per iteration; empty: none
  std::string export_safetensors;  // write the final parameters (whole tensors) here; empty: none
  std::string export_hf;           // write a transformers model directory here (launch/hf_checkpoint.h); empty: none
  int threads = 0;           // 0: OMP_NUM_THREADS, else the node's cores / local ranks
  int tensor_model_parallel_size = 1;
  int pipeline_model_parallel_size = 1;
  int data_parallel_size = 0;  // 0: world / (tp · pp); otherwise checked against it
  // Pipeline (framework/pipeline): schedule, virtual stages, layer split.
  std::string pipeline_schedule;        // gpipe, 1f1b, interleaved; empty: interleaved when v > 1, else 1f1b
  int num_virtual_stages = 1;           // v, model chunks per pipeline rank
  std::vector<int64_t> pipeline_layers_per_stage;  // one count per virtual stage; empty: even split
  std::string recompute_granularity;    // empty (none), selective or full
  bool print_schedule = false;          // print the schedule's timeline and exit
  // Checkpoints (checkpoint/checkpoint.h).
  std::string save;             // --save DIR; empty: no checkpoints
  int64_t save_interval = 0;    // iterations between saves; 0: only at the end (and on SIGTERM/SIGUSR1)
  int keep_last = 0;            // committed checkpoints kept; 0: all
  std::string load;             // --load DIR: resume from its latest (or --load-iteration)
  int64_t load_iteration = -1;
  bool no_load_optim = false;
  bool no_load_rng = false;
  bool finetune = false;        // load weights only; start at iteration 0
  std::string load_hf;          // --load-hf DIR: start from a transformers model's weights (a --load checkpoint wins)
  // On --load the LR schedule is the checkpoint's; one given that differs is an error unless one of these says which wins.
  bool override_opt_param_scheduler = false;        // the command line's
  bool use_checkpoint_opt_param_scheduler = false;  // the checkpoint's
  // Keys of the flags the command line (or --config) set: on --load the others come from the checkpoint.
  std::set<std::string> flags_given;
  // Stopping early (Megatron's names): save (with --save) and exit 0.
  int64_t exit_interval = 0;           // after every Nth iteration; 0: never
  double exit_duration_in_mins = 0.0;  // once the job has run this long; 0: never
  // Divergence guard (divergence_guard.h) and fault injection (fault_injection.h).
  DivergenceGuardConfig guard;
  int64_t rollback_skip_batches = 0;  // data batches skipped beyond those up to the anomaly
  double rollback_lr_scale = 1.0;     // LR factor after each rollback, for the rest of the run
  std::vector<std::string> inject_faults;
  double peak_tflops = 0.0;        // per rank, for MFU; 0: measure the GEMM peak at start
  std::string trace;               // --trace FILE: Chrome trace-event JSON; empty: none
  int64_t trace_iterations = 10;   // iterations traced (from the first)
  int64_t ddp_bucket_size = 4'000'000;  // elements (f32) per data-parallel gradient bucket
  bool overlap_grad_reduce = true;
  // Memory at scale (docs/memory.md): ZeRO-1 optimizer shards over DP, and
  // activations between the TP regions sharded over the token rows.
  bool use_distributed_optimizer = false;
  bool sequence_parallel = false;  // needs tp > 1
  // Precision (DESIGN.md idea 6): f32 unless --fp16 or --bf16.
  bool fp16 = false;
  bool bf16 = false;
  optim::LossScalerConfig loss_scaler;  // used with --fp16
  double loss_scale = 0.0;              // --loss-scale: > 0 is a static scale
  std::string device = "auto";  // auto (a GPU when one is visible), cpu, cuda
  std::string comm = "auto";    // auto, mpi

  Device resolved_device() const { return device == "cuda" ? Device::cuda : Device::cpu; }

  // Micro-batches per data-parallel rank per iteration, once dp is known.
  int64_t num_micro_batches(int dp = 1) const { return global_batch_size / (micro_batch_size * dp); }
  optim::LrSchedule lr_schedule() const;
  // Once resolved: the schedule, its shape for `dp`, and the layer split.
  pipeline::ScheduleKind schedule_kind() const { return pipeline::schedule_kind_from_name(pipeline_schedule); }
  pipeline::ScheduleShape schedule_shape(int dp) const {
    return {pipeline_model_parallel_size, int(num_micro_batches(dp)), num_virtual_stages};
  }
  gpt::PipelineStages pipeline_stages() const;
  // --data-path as (weight, path) pairs; UsageError for another shape.
  std::vector<std::pair<double, std::string>> data_sources() const;
  // Whether evaluation runs at all (periodically, at the end, or alone).
  bool evaluates() const { return eval_interval > 0 || skip_train; }
  // Every flag's value, resolved, by flag name (logged, stored in checkpoints):
  // written from the flag table itself (launch/train_flags.cc).
  nlohmann::json to_json() const;
  // Throws UsageError on the first bad value; resolves defaults (threads,
  // decay iters) for a world of `world_size` ranks, `local_size` per node.
  void validate_and_resolve(int world_size = 1, int local_size = 1);
  // The precision flags alone (--fp16/--bf16, loss scaling): model.dtype and loss_scaler (trident-plan
  // needs the dtype without a world to validate the rest against).
  void resolve_precision();
};

}  // namespace trident::launch
