// The planner behind trident-plan: every valid layout of a model on a
// cluster (tp, pp, dp, virtual stages, micro-batch, recompute, distributed
// optimizer, sequence parallelism), each with its predicted memory per
// device (memory_model.h) and time per iteration (time_model.h), ranked by
// time among those that fit. Choices the user fixed by flag are not searched.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "launch/memory_model.h"
#include "launch/time_model.h"
#include "launch/train_config.h"

namespace trident::launch {

struct PlannedLayout {
  LayoutChoice layout;
  int64_t memory_bytes = 0;   // the most any rank holds (the predicted per-category peaks' sum)
  MemoryByCategory memory;    // that rank's categories
  TimePrediction time;
  bool fits = false;          // memory_bytes within the device's usable memory
};

// The device bytes a layout may use: the device's memory less what the
// CUDA context, the caching allocator's rounding and the unmodelled work
// buffers take (docs/planner.md).
int64_t usable_device_bytes(const ClusterSpec& cluster);

// Every layout of cfg.model for cfg.global_batch_size sequences on `cluster`
// that trident-train accepts, keeping the choices named in `fixed` (flag keys
// as in TrainConfig::flags_given: "tensor_model_parallel_size", ...) at
// cfg's values. Sorted: those that fit first, fastest first; then the rest
// by memory. Empty when no layout is valid at all.
std::vector<PlannedLayout> plan_layouts(const TrainConfig& cfg, const std::set<std::string>& fixed,
                                        const ClusterSpec& cluster);

// The layout a validated TrainConfig runs on `dp` data-parallel ranks.
LayoutChoice layout_of(const TrainConfig& cfg, int dp);
// One layout's prediction (memory model and time model); UsageError when the time model cannot cost it.
PlannedLayout evaluate_layout(const TrainConfig& cfg, const LayoutChoice& layout, const ClusterSpec& cluster);

// The layout as trident-train flags: "--tp 2 --pp 4 --num-virtual-stages-per-pipeline-rank 2 ...".
std::string layout_flags(const LayoutChoice& layout);
const char* recompute_name(gpt::Recompute recompute);

}  // namespace trident::launch
