#include "launch/planner.h"

#include <algorithm>

#include "framework/core/error.h"
#include "framework/pipeline/schedule.h"
#include "launch/memory_report.h"
#include "models/gpt/pipeline_stages.h"

namespace trident::launch {
namespace {

std::vector<int> divisors(int n) {
  std::vector<int> out;
  for (int d = 1; d <= n; ++d)
    if (n % d == 0) out.push_back(d);
  return out;
}

// The values one choice may take: its fixed value, or every candidate.
template <typename T>
std::vector<T> choices(const std::set<std::string>& fixed, const std::string& key, T given, std::vector<T> all) {
  if (fixed.count(key)) return {given};
  return all;
}

// Whether trident-train accepts this layout of `model`: the model's, the stage split's and the
// schedule's own checks; the batch and sequence-parallel rules restate check_batch_and_pipeline's
// (train_config.cc), which reads a whole TrainConfig; the distributed optimizer on dp 1 is the
// planner's own rule (the same run as without).
bool valid(const gpt::GptConfig& model, int64_t global_batch, const LayoutChoice& l) {
  try {
    model.validate(l.tp);
    if (global_batch % (l.micro_batch_size * l.dp) != 0) return false;
    if (l.sequence_parallel && (l.tp == 1 || model.seq_length % l.tp != 0)) return false;
    if (l.distributed_optimizer && l.dp == 1) return false;
    (void)gpt::PipelineStages::even(model.num_layers, l.pp, l.virtual_stages);
    const int m = int(global_batch / (l.micro_batch_size * l.dp));
    const auto kind = l.virtual_stages > 1 ? pipeline::ScheduleKind::interleaved : pipeline::ScheduleKind::one_f_one_b;
    pipeline::check_shape(kind, {l.pp, m, l.virtual_stages});
    return true;
  } catch (const UsageError&) {
    return false;
  }
}

// cfg with `l`'s choices, as trident-train would hold them: the memory model reads its input from that.
TrainConfig with_layout(TrainConfig cfg, const LayoutChoice& l) {
  cfg.tensor_model_parallel_size = l.tp, cfg.pipeline_model_parallel_size = l.pp, cfg.data_parallel_size = l.dp;
  cfg.num_virtual_stages = l.virtual_stages;
  cfg.pipeline_layers_per_stage.clear();
  cfg.pipeline_schedule = l.virtual_stages > 1 ? "interleaved" : "1f1b";
  cfg.micro_batch_size = l.micro_batch_size;
  cfg.model.recompute = l.recompute;
  cfg.use_distributed_optimizer = l.distributed_optimizer;
  cfg.sequence_parallel = l.sequence_parallel;
  return cfg;
}

}  // namespace

PlannedLayout evaluate_layout(const TrainConfig& cfg, const LayoutChoice& l, const ClusterSpec& cluster) {
  PlannedLayout p;
  p.layout = l;
  const TrainConfig run = with_layout(cfg, l);
  const MemoryPrediction memory = predict_memory(memory_model_input(run, l.dp));
  p.memory = memory.ranks[size_t(memory.max_rank())].bytes;
  p.memory_bytes = p.memory.total();
  p.time = predict_iteration_time(run.model, cfg.global_batch_size, l, cluster);
  p.fits = p.memory_bytes <= usable_device_bytes(cluster);
  return p;
}

LayoutChoice layout_of(const TrainConfig& cfg, int dp) {
  LayoutChoice l;
  l.tp = cfg.tensor_model_parallel_size, l.pp = cfg.pipeline_model_parallel_size, l.dp = dp;
  l.virtual_stages = cfg.num_virtual_stages, l.micro_batch_size = cfg.micro_batch_size;
  l.recompute = cfg.model.recompute;
  l.distributed_optimizer = cfg.use_distributed_optimizer, l.sequence_parallel = cfg.sequence_parallel;
  return l;
}

namespace {

// Every (tp, pp, dp) of the cluster's devices, TP inside a node.
std::vector<LayoutChoice> parallel_degrees(const TrainConfig& cfg, const std::set<std::string>& fixed,
                                           const ClusterSpec& cluster) {
  std::vector<LayoutChoice> out;
  for (int tp : choices(fixed, "tensor_model_parallel_size", cfg.tensor_model_parallel_size, divisors(cluster.gpus))) {
    if (tp > cluster.gpus_per_node && !fixed.count("tensor_model_parallel_size")) continue;
    for (int pp : choices(fixed, "pipeline_model_parallel_size", cfg.pipeline_model_parallel_size,
                          divisors(cluster.gpus / tp))) {
      if (cluster.gpus % (tp * pp) != 0) continue;
      const int dp = cluster.gpus / (tp * pp);
      if (fixed.count("data_parallel_size") && cfg.data_parallel_size != dp) continue;
      LayoutChoice l;
      l.tp = tp, l.pp = pp, l.dp = dp;
      out.push_back(l);
    }
  }
  return out;
}

// The remaining choices of one (tp, pp, dp).
std::vector<LayoutChoice> expand(const TrainConfig& cfg, const std::set<std::string>& fixed, LayoutChoice l) {
  using gpt::Recompute;
  const Recompute given_recompute = gpt::recompute_from_name(cfg.recompute_granularity);
  std::vector<LayoutChoice> out;
  for (int v : choices(fixed, "num_virtual_stages_per_pipeline_rank", cfg.num_virtual_stages, {1, 2, 3, 4, 6, 8}))
    for (int64_t mb : choices<int64_t>(fixed, "micro_batch_size", cfg.micro_batch_size, {1, 2, 4, 8, 16}))
      for (Recompute r : choices(fixed, "recompute_granularity", given_recompute,
                                 {Recompute::none, Recompute::selective, Recompute::full}))
        for (bool d : choices(fixed, "use_distributed_optimizer", cfg.use_distributed_optimizer, {false, true}))
          for (bool sp : choices(fixed, "sequence_parallel", cfg.sequence_parallel, {false, true})) {
            if (v > 1 && l.pp == 1) continue;
            l.virtual_stages = v, l.micro_batch_size = mb, l.recompute = r;
            l.distributed_optimizer = d, l.sequence_parallel = sp;
            if (valid(cfg.model, cfg.global_batch_size, l)) out.push_back(l);
          }
  return out;
}

}  // namespace

int64_t usable_device_bytes(const ClusterSpec& cluster) {
  return int64_t(cluster.device_memory_gb * 1e9 * 0.9);  // 10% for the context, allocator rounding, work buffers
}

std::vector<PlannedLayout> plan_layouts(const TrainConfig& cfg, const std::set<std::string>& fixed,
                                        const ClusterSpec& cluster) {
  std::vector<PlannedLayout> out;
  for (const LayoutChoice& degrees : parallel_degrees(cfg, fixed, cluster))
    for (const LayoutChoice& l : expand(cfg, fixed, degrees)) out.push_back(evaluate_layout(cfg, l, cluster));
  std::stable_sort(out.begin(), out.end(), [](const PlannedLayout& a, const PlannedLayout& b) {
    if (a.fits != b.fits) return a.fits;
    return a.fits ? a.time.iteration < b.time.iteration : a.memory_bytes < b.memory_bytes;
  });
  return out;
}

const char* recompute_name(gpt::Recompute recompute) {
  switch (recompute) {
    case gpt::Recompute::none: return "none";
    case gpt::Recompute::selective: return "selective";
    case gpt::Recompute::full: return "full";
  }
  return "none";
}

std::string layout_flags(const LayoutChoice& l) {
  std::string out = detail::concat("--tp ", l.tp, " --pp ", l.pp, " --dp ", l.dp);
  if (l.virtual_stages > 1) out += detail::concat(" --num-virtual-stages-per-pipeline-rank ", l.virtual_stages);
  out += detail::concat(" --micro-batch-size ", l.micro_batch_size);
  if (l.recompute != gpt::Recompute::none) out += std::string(" --recompute-granularity ") + recompute_name(l.recompute);
  if (l.distributed_optimizer) out += " --use-distributed-optimizer";
  if (l.sequence_parallel) out += " --sequence-parallel";
  return out;
}

}  // namespace trident::launch
